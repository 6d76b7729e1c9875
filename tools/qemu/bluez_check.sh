#!/bin/busybox sh
# Inside the QEMU guest (tests mode): the gateway side through BlueZ, end to end.
#
# A Linux gateway runs bluetoothd, which owns its adapter; `fedwear listen --transport bluez`
# is then a bleak central over BlueZ's D-Bus API. Here the gateway's adapter is one of
# bumble's virtual controllers attached to the kernel by btattach (hci0), under a system
# D-Bus and bluetoothd started by hand; the wearable is `fedwear run` on the other
# controller of the same virtual link. The central must find the wearable by its service,
# pair ("Just Works", through fedwear's pairing agent), and receive the replayed falls.
# A second session must reuse the bond that BlueZ stored (no second pairing); a third,
# with a wearable that has forgotten the bond, must remove it from BlueZ and pair again.
# Prints FEDWEAR-QEMU-BLUEZ rc=<0 ok> received=<events>.
bb=/bin/busybox
rc=1
received=0
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
$bb mkdir -p /run/dbus /var/lib/bluetooth /tmp/bluez
[ -e "/lib/modules/$($bb uname -r)/modules.dep" ] || /sbin/depmod -a  # no postinst ran
if /sbin/modprobe -a hci_uart cmac ecdh_generic ccm && dbus-daemon --system --fork --nopidfile; then
    python3 tests/virtual_radio.py pty:/tmp/bluez/hci-gateway pty:/tmp/bluez/hci-wearable \
        >/tmp/bluez/radio.log 2>&1 &
    radio=$!
    n=0
    while [ ! -e /tmp/bluez/hci-wearable ] && [ $n -lt 120 ]; do $bb sleep 1; n=$((n + 1)); done
    btattach -B /tmp/bluez/hci-gateway -P h4 >/tmp/bluez/btattach.log 2>&1 &
    att=$!
    n=0
    while [ ! -e /sys/class/bluetooth/hci0 ] && [ $n -lt 30 ]; do $bb sleep 1; n=$((n + 1)); done
    /usr/libexec/bluetooth/bluetoothd -n >/tmp/bluez/bluetoothd.log 2>&1 &
    btd=$!
    $bb sleep 3
    bluetoothctl --timeout 15 power on >/tmp/bluez/power.log 2>&1
    # Nothing advertises yet: one line, exit 60.
    python3 -m fedwear.cli listen --transport bluez:hci0 --timeout 5 2>/tmp/bluez/empty.err
    empty_rc=$?
    $bb cat /tmp/bluez/empty.err
    # Nine copies of the fall recording (a fall every 10 s): the wearable is still running
    # while the central scans, connects and pairs (emulated, about 30 s), and reconnects.
    $bb mkdir -p /tmp/bluez/falls
    for i in 1 2 3 4 5 6 7 8 9; do
        $bb cp tests/data/mobifall/FOL_acc_2_1.txt /tmp/bluez/falls/FOL_acc_2_$i.txt
        $bb cp tests/data/mobifall/FOL_gyro_2_1.txt /tmp/bluez/falls/FOL_gyro_2_$i.txt
    done
    # wearable NAME: `fedwear run` with the bonds file NAME.json, in the background.
    wearable() {
        printf '[source]\npace = "realtime"\n[ble]\nenabled = true\ntransport = "serial:/tmp/bluez/hci-wearable"\nbonds_path = "/tmp/bluez/%s.json"\n' "$1" >/tmp/bluez/$1.toml
        python3 -m fedwear.cli run --config /tmp/bluez/$1.toml --path /tmp/bluez/falls \
            --event-log /tmp/bluez/$1.jsonl --quiet 2>/tmp/bluez/$1.err &
        pid=$!
    }
    # listen NAME COUNT TIMEOUT: one gateway session; sets its exit code as NAME_rc.
    listen() {
        python3 -m fedwear.cli listen --transport bluez:hci0 --count $2 --timeout $3 \
            >/tmp/bluez/$1.out 2>/tmp/bluez/$1.listen.err
        eval "$1_rc=$?"
        $bb cat /tmp/bluez/$1.listen.err
    }
    wearable owner
    listen first 2 240
    listen again 1 120
    kill -TERM $pid  # the rest of the replay is not needed: it stops cleanly, exit 0
    wait $pid
    owner_rc=$?
    wearable forgetful  # a new bonds file: as if the wearable had been reset
    listen afresh 1 240
    kill -TERM $pid
    wait $pid
    forgetful_rc=$?
    received=$($bb cat /tmp/bluez/first.out /tmp/bluez/again.out /tmp/bluez/afresh.out |
        $bb grep -c '"kind":"fall"')
    for name in owner forgetful; do
        $bb tr '\r' '\n' </tmp/bluez/$name.err | $bb grep "BLE\|Bluetooth"
    done
    if [ $empty_rc -eq 60 ] && $bb grep -q "no fedwear wearable advertised within 5 s" /tmp/bluez/empty.err &&
        [ $owner_rc -eq 0 ] && [ $forgetful_rc -eq 0 ] &&
        [ $first_rc -eq 0 ] && [ "$($bb grep -c '"kind":"fall"' /tmp/bluez/first.out)" -ge 2 ] &&
        [ $again_rc -eq 0 ] && [ "$($bb grep -c '"kind":"fall"' /tmp/bluez/again.out)" -ge 1 ] &&
        [ "$($bb grep -c "pairing request from" /tmp/bluez/owner.err)" -eq 1 ] &&
        [ $afresh_rc -eq 0 ] && [ "$($bb grep -c '"kind":"fall"' /tmp/bluez/afresh.out)" -ge 1 ] &&
        $bb grep -q "removing BlueZ's bond" /tmp/bluez/afresh.listen.err &&
        [ "$($bb grep -c "pairing request from" /tmp/bluez/forgetful.err)" -eq 1 ]; then
        rc=0
    fi
    $bb cat /tmp/bluez/power.log
    if [ $rc -ne 0 ]; then $bb tail -30 /tmp/bluez/bluetoothd.log /tmp/bluez/radio.log; fi
    kill $btd $att $radio 2>/dev/null
else
    echo "no kernel Bluetooth or no D-Bus daemon"
fi
echo "FEDWEAR-QEMU-BLUEZ rc=$rc received=$received"
