from bench.kb.cheats import bf16, honest

ModelNew = bf16(honest(__file__))
