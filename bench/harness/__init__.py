"""The benchmark harness behind bench/run.sh, as a package of modules with one job each.

    common     paths, the error type, logging, core lists
    scenarios  the scenario table (bench/scenarios.json) and its checks
    processes  child processes (own process groups, killed with the harness) and the machine lock
    procfs     /proc readings: CPU ticks, RSS, the CPU window of a run, the RSS sampler
    servers    the servers (web host on Epoll or Sockets, nginx from nginx.conf) and port checks
    content    the shared content root and the per-scenario answer check
    parsers    wrk's and h2load's output -> numbers (pure functions; bench/tests)
    loadgen    load generator command lines and one measured run
    measure    a CPU mode: start, check, warm up, measure in alternating rounds
    idle       the idle-connection test
    summary    medians, ratios and scaling over the runs
    metadata   machine, tool versions, settings
    cli        the command line
    main       the run from start to finish
    report     the results JSON -> markdown report, SVG chart, console table

Python 3 standard library only.
"""
