#!/usr/bin/env bash
# The gateway on Redis Sentinel (issue 13): a master, its replica and three
# sentinels, started here; the t/ and SDK suites with "sentinel=rooms",
# then the master killed and a SENTINEL FAILOVER, each under load.  The
# parts and checks are the cluster suite's: see lua-free-tests/cluster/run.sh.
#
#   lua-free-tests/sentinel/run.sh                (after scripts/build)
#   CLUSTER_PARTS="kill failover" lua-free-tests/sentinel/run.sh
CLUSTER_TOPOLOGY=sentinel exec "$(dirname "$0")/../cluster/run.sh" "$@"
