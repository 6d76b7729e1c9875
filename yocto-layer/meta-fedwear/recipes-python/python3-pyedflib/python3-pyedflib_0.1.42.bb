SUMMARY = "Read and write EDF/EDF+/BDF files"
DESCRIPTION = "pyEDFlib reads and writes European Data Format files (EDF, EDF+, BDF), the format of the wrist-PPG recordings fedwear replays."
HOMEPAGE = "https://github.com/holgern/pyedflib"
BUGTRACKER = "https://github.com/holgern/pyedflib/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=9c0de079b9de542ed189e8b0bb28241d"

SRC_URI[sha256sum] = "39f35c60ce213f23ee954f89117f79b2adb5ef4894500fd9bf0f9298fb240efc"

CVE_PRODUCT = "pyedflib"

DEPENDS += "\
    python3-cython-native \
    python3-numpy-native \
"

PYPI_PACKAGE = "pyedflib"

inherit pypi python_setuptools_build_meta

RDEPENDS:${PN} += "python3-numpy"

BBCLASSEXTEND = "native nativesdk"
