"""`switchyard bench`: workloads measured against the running stack, configuration by configuration.

`model` holds what a benchmark is (configurations, workloads, figures), `runner` runs every
workload of a suite under every configuration (each with its own freshly started workers)
and takes the median of the repetitions, `report` prints the table and the ratios. A suite
such as `results_suite` only declares its workloads, so more (publish rate, throughput
without results, priority cost, memory) are added as one module each.
"""
