"""`switchyard bench`: workloads measured against the running stack, configuration by configuration.

`model` holds what a benchmark is (configurations, workloads, figures), `runner` runs every
workload of a suite under every configuration (each with its own freshly started workers)
and takes the median of the repetitions, `report` prints the table and the ratios.
`compare_suite` sets stock Celery (`stock_app`) against Switchyard, with the broker's raw
rates (`reference`) and the workers' peak memory (`memory`); `results_suite` compares only
the result backends.
"""
