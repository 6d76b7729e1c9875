#!/bin/busybox sh
# Inside the QEMU guest (tests mode): the device's default BLE transport, end to end.
#
# A UART Bluetooth chip is attached to the kernel by btattach and appears as hci0; fedwear
# then takes hci0 through the kernel's HCI user channel (ble.transport = "hci-socket:0", as
# /etc/fedwear/fedwear.toml ships). Here the chip is one of bumble's virtual controllers
# (tests/virtual_radio.py: with a public address, as a chip has) serving HCI on a pty; the
# other controller on the same virtual radio link is a phone,
# `fedwear listen` over bumble. A fall replayed at real-time pace must arrive at the phone.
# Prints FEDWEAR-QEMU-BLE rc=<0 ok> received=<events>.
bb=/bin/busybox
rc=1
received=0
[ -e "/lib/modules/$($bb uname -r)/modules.dep" ] || /sbin/depmod -a  # no postinst ran
if /sbin/modprobe hci_uart; then
    python3 tests/virtual_radio.py pty:/tmp/hci-chip pty:/tmp/hci-phone >/tmp/ctl.log 2>&1 &
    ctl=$!
    n=0
    while [ ! -e /tmp/hci-phone ] && [ $n -lt 120 ]; do $bb sleep 1; n=$((n + 1)); done
    btattach -B /tmp/hci-chip -P h4 >/tmp/btattach.log 2>&1 &
    att=$!
    n=0
    while [ ! -e /sys/class/bluetooth/hci0 ] && [ $n -lt 30 ]; do $bb sleep 1; n=$((n + 1)); done
    printf '[source]\npace = "realtime"\n[ble]\nenabled = true\ntransport = "hci-socket:0"\nbonds_path = "/tmp/ble/bonds.json"\n' >/tmp/ble.toml
    python3 -m fedwear.cli listen --transport serial:/tmp/hci-phone --count 1 --timeout 240 \
        --bonds /tmp/ble/listen-bonds.json >/tmp/listen.out 2>/tmp/listen.err &
    phone=$!
    python3 -m fedwear.cli run --config /tmp/ble.toml --path tests/data/mobifall/FOL_acc_2_1.txt \
        --event-log /tmp/ble-events.jsonl --quiet 2>/tmp/ble-run.err
    run_rc=$?
    wait $phone
    listen_rc=$?
    received=$($bb grep -c '"kind":"fall"' /tmp/listen.out)
    if [ $run_rc -eq 0 ] && [ $listen_rc -eq 0 ] && [ "$received" -eq 1 ]; then rc=0; fi
    $bb tr '\r' '\n' </tmp/ble-run.err | $bb grep "BLE\|Bluetooth"
    $bb cat /tmp/listen.err /tmp/btattach.log
    kill $att $ctl 2>/dev/null
else
    echo "modprobe hci_uart failed"
fi
echo "FEDWEAR-QEMU-BLE rc=$rc received=$received"
