#
# SPDX-License-Identifier: Apache-2.0
#
"""testimage checks for fedwear: the service runs, its watchdog restarts a hung process,
and a replay job on the device produces events. Enable with TEST_SUITES += "fedwear"."""

import json
import time

from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.case import OERuntimeTestCase
from oeqa.runtime.decorator.package import OEHasPackage


class FedwearTest(OERuntimeTestCase):
    def run_ok(self, command, timeout=300):
        status, output = self.target.run(command, timeout=timeout)
        self.assertEqual(status, 0, msg=f"{command}\n{output}")
        return output

    def main_pid(self):
        return self.run_ok("systemctl show --property=MainPID --value fedwear.service").strip()

    def wait_active(self, seconds=120):
        end = time.time() + seconds
        while time.time() < end:
            status, _ = self.target.run("systemctl is-active --quiet fedwear.service")
            if status == 0 and self.main_pid() not in ("", "0"):
                return
            time.sleep(2)
        self.fail(self.target.run("systemctl status --full fedwear.service")[1])

    @OEHasPackage(["python3-fedwear"])
    @OETestDepends(["ssh.SSHTest.test_ssh"])
    def test_fedwear_service_active(self):
        self.wait_active()
        # Type=notify: active means the runtime itself said READY=1.
        status = self.run_ok("systemctl show --property=StatusText --value fedwear.service")
        self.assertIn("reading", status)

    @OEHasPackage(["fedwear-models"])
    @OETestDepends(["fedwear.FedwearTest.test_fedwear_service_active"])
    def test_fedwear_models_loaded(self):
        # The device config skips a model it cannot use, with one error line: there must be
        # none, so every detector of the image is running.
        for name in ("fall", "beats", "ppg_hr", "normal"):
            self.run_ok(f"test -s /usr/share/fedwear/models/{name}.tflite")
        errors = self.run_ok("journalctl --unit fedwear.service --priority err --output cat")
        self.assertNotIn("disabled", errors)

    @OETestDepends(["fedwear.FedwearTest.test_fedwear_service_active"])
    def test_fedwear_bluetooth_state_is_logged(self):
        # With a controller the uplink advertises; without one (qemuarm64 has none) the
        # service says so once and runs on. Either way, one line says which.
        end = time.time() + 60
        while time.time() < end:
            journal = self.run_ok("journalctl --unit fedwear.service --boot --output cat")
            if "BLE: advertising" in journal or "Bluetooth off:" in journal:
                break
            time.sleep(2)
        else:
            self.fail(f"no line about Bluetooth in the journal:\n{journal}")
        status, _ = self.target.run("systemctl is-active --quiet fedwear.service")
        self.assertEqual(status, 0, msg="fedwear.service stopped")

    @OETestDepends(["fedwear.FedwearTest.test_fedwear_service_active"])
    def test_fedwear_watchdog_restarts_a_hung_process(self):
        watchdog = self.run_ok("systemctl show --property=WatchdogUSec --value fedwear.service")
        self.assertNotIn(watchdog.strip(), ("", "0", "infinity"))
        before = self.main_pid()
        self.run_ok(f"kill -STOP {before}")  # the main loop stops, so do the pings
        end = time.time() + 180
        while time.time() < end:
            pid = self.main_pid()
            if pid not in ("", "0", before):
                break
            time.sleep(5)
        self.assertNotEqual(self.main_pid(), before, msg="the watchdog did not restart fedwear")
        self.wait_active()

    @OETestDepends(["fedwear.FedwearTest.test_fedwear_service_active"])
    def test_fedwear_replay_job_produces_events(self):
        output = self.run_ok("fedwear run --event-log /tmp/fedwear-oeqa.jsonl 2>/dev/null")
        summary = json.loads(output.strip().splitlines()[-1])
        self.assertEqual(summary["type"], "summary")
        self.assertGreater(summary["samples"], 40000)
        self.assertGreaterEqual(summary["events"], 1)
