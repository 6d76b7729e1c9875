# nooelint: oelint.var.suggestedvar.BUGTRACKER
# (BUGTRACKER: the project has no public bug tracker yet)
SUMMARY = "fedwear runtime and what it needs on the device"
DESCRIPTION = "The fedwear Python runtime with its systemd service."
SECTION = "base"
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "fedwear-models python3-fedwear"
