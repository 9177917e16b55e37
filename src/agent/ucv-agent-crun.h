/* How the agent calls crun: the program, its state directory and the one container's name. */
#pragma once

#define UCV_AGENT_CRUN         "/usr/bin/crun"
#define UCV_AGENT_CRUN_ROOT    "/run/crun"
#define UCV_AGENT_CONTAINER_ID "job"
