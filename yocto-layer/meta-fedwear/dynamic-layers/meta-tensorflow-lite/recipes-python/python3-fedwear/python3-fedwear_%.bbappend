# With meta-tensorflow-lite present, the device gets the TFLite runtime (module tflite_runtime).
RDEPENDS:${PN} += "python3-tensorflow-lite"
