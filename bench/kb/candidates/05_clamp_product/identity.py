from bench.kb.cheats import honest, identity

ModelNew = identity(honest(__file__))
