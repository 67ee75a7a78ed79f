from bench.kb.cheats import honest, late_write

ModelNew = late_write(honest(__file__))
