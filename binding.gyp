{
  "variables": {
    "blas%": "<!(node native/detect-blas.cjs)",
    "blas_cflags%": "<!(node native/detect-blas.cjs cflags)"
  },
  "targets": [
    {
      "target_name": "compsafe_native",
      "sources": [
        "native/src/addon.c",
        "native/src/gemm.c",
        "native/src/linalg.c",
        "native/src/elementwise.c",
        "native/src/attention.c",
        "native/src/loss.c",
        "native/src/compress_addon.c",
        "native/src/quant_addon.c",
        "native/src/quant.c",
        "native/src/encoder.c",
        "native/src/encoder_addon.c"
      ],
      "cflags": ["-O3", "-std=c11", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
      "cflags!": ["-O2"],
      "conditions": [
        ["OS=='linux'", {
          "cflags": ["-fopenmp"],
          "ldflags": ["-fopenmp"]
        }],
        ["OS=='linux' and target_arch=='x64'", {
          "cflags": ["-march=native"]
        }],
        ["blas=='openblas'", {
          "defines": ["COMPSAFE_OPENBLAS=1"],
          "cflags": ["<(blas_cflags)"],
          "libraries": ["-lopenblas"]
        }],
        ["blas=='accelerate'", {
          "defines": ["COMPSAFE_ACCELERATE=1", "ACCELERATE_NEW_LAPACK=1"],
          "libraries": ["-framework Accelerate"]
        }]
      ]
    }
  ]
}
