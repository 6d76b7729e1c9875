# nooelint: oelint.var.mandatoryvar.SRC_URI,oelint.var.mandatoryvar.HOMEPAGE,oelint.var.suggestedvar.BUGTRACKER,oelint.var.bbclassextend
# (SRC_URI: built with externalsrc from this checkout; nothing is fetched)
# (HOMEPAGE: the project has no public home page yet)
# (BUGTRACKER: the project has no public bug tracker yet)
# (bbclassextend: a device service, never a build tool: no native variant)
SUMMARY = "On-device runtime for Linux wearables"
DESCRIPTION = "Reads IMU and heart sensors through a lock-free C ring buffer and runs detectors over sliding windows, as a systemd service with a watchdog."
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

CVE_PRODUCT = "fedwear"

# cffi compiles native/ for the target with the cross compiler (as python3-pycares does).
DEPENDS += "python3-cffi-native"

# Built from the checkout that holds this layer: four levels up from this recipe
# (yocto-layer/meta-fedwear/recipes-python/python3-fedwear/).
inherit externalsrc python_setuptools_build_meta ptest-python-pytest systemd useradd

EXTERNALSRC = "${@os.path.normpath(os.path.join(d.getVar('FILE_DIRNAME'), '..', '..', '..', '..'))}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/fedwear.service ${D}${systemd_system_unitdir}/fedwear.service
    install -d ${D}${sysconfdir}/fedwear
    install -m 0644 ${S}/systemd/fedwear.toml ${D}${sysconfdir}/fedwear/fedwear.toml
    # IIO devices readable and set up by the service's user (the rule says why)
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/systemd/70-fedwear-iio.rules ${D}${nonarch_base_libdir}/udev/rules.d/70-fedwear-iio.rules
    # The wheel carries the models for host installs (pyproject data-files); on the image
    # they come from fedwear-models, which updates on its own.
    rm -rf ${D}${datadir}/fedwear
    rmdir --ignore-fail-on-non-empty ${D}${datadir}
}

CONFFILES:${PN} = "${sysconfdir}/fedwear/fedwear.toml"
FILES:${PN} += "${nonarch_base_libdir}/udev/rules.d/70-fedwear-iio.rules"

# The on-device suite: tests/ (copied by ptest-python-pytest) without the "host" tests.
do_install_ptest:append() {
    install -m 0755 ${S}/tools/run-ptest ${D}${PTEST_PATH}/run-ptest
}

RDEPENDS:${PN} += "\
    fedwear-models \
    python3-bleak \
    python3-bumble \
    python3-cffi \
    python3-dbus-fast \
    python3-msgpack \
    python3-numpy \
    python3-pyedflib \
    python3-pyserial \
"

RDEPENDS:${PN}-ptest += "\
    python3-hypothesis \
    python3-pytest \
"

USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir ${localstatedir}/lib/fedwear --shell /sbin/nologin --user-group --groups dialout fedwear"

SYSTEMD_SERVICE:${PN} = "fedwear.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
