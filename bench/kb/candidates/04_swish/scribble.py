from bench.kb.cheats import honest, scribble

ModelNew = scribble(honest(__file__))
