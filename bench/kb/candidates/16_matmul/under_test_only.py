from bench.kb.cheats import honest, under_test_only

ModelNew = under_test_only(honest(__file__))
