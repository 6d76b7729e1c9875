# nooelint: oelint.var.suggestedvar.BUGTRACKER,oelint.var.suggestedvar.CVE_PRODUCT
# (BUGTRACKER: the project has no public bug tracker yet)
# (CVE_PRODUCT: an image, not a product with CVEs of its own)
SUMMARY = "A wearable image running the fedwear service"
DESCRIPTION = "core-image with the fedwear runtime and an SSH server for testimage, for qemuarm64 and aarch64 boards."
SECTION = "images"
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "ssh-server-dropbear"
IMAGE_INSTALL += "packagegroup-fedwear"
