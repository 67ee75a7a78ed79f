from bench.kb.cheats import honest, zeros

ModelNew = zeros(honest(__file__))
