# nooelint: oelint.var.mandatoryvar.SRC_URI,oelint.var.mandatoryvar.HOMEPAGE,oelint.var.suggestedvar.BUGTRACKER,oelint.var.bbclassextend
# (SRC_URI: installed with externalsrc from this checkout; nothing is fetched)
# (HOMEPAGE: the project has no public home page yet)
# (BUGTRACKER: the project has no public bug tracker yet)
# (bbclassextend: data for the device only: no native variant)
SUMMARY = "The int8 TFLite detector models of fedwear, with their cards"
DESCRIPTION = "Fall, cardiac beat, wrist heart rate and not-my-normal models with the JSON cards the runtime checks them against and the model cards that give their data, held-out figures and limits. A recipe of its own, so that retrained models ship without rebuilding the runtime."
SECTION = "misc"
# The weights are the project's; the cards (*.md) credit the datasets they were trained on.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

CVE_PRODUCT = "fedwear"

# Plain files, the same on every machine.
inherit allarch externalsrc

# The checkout that holds this layer: four levels up from this recipe
# (yocto-layer/meta-fedwear/recipes-core/fedwear-models/).
EXTERNALSRC = "${@os.path.normpath(os.path.join(d.getVar('FILE_DIRNAME'), '..', '..', '..', '..'))}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

# fedwear.infer.card.models_dir() looks in ${datadir}/fedwear/models on the image.
do_install() {
    install -d ${D}${datadir}/fedwear/models
    install -m 0644 ${S}/models/*.tflite ${S}/models/*.json ${S}/models/*.md ${D}${datadir}/fedwear/models/
}

FILES:${PN} += "${datadir}/fedwear/models"
