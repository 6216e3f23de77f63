module openruntime/benchmarks/go_spawner

go 1.19
