/* The running ranks of DOCKER jobs: the agent channel of each container host, kept in the run. */
#pragma once

#include "engine/ucv-engine.h"
#include "engine/ucv-job-run.h"

G_BEGIN_DECLS

/* Starts watching the rank's container host (idempotent): connects to its agent, fails the job
 * when no greeting of this provider's agent version comes within [container] agent-timeout, and
 * appends the container's output to the rank's logs. */
void ucv_engine_container_watch(UcvEngine *self, UcvJobRun *run, guint rank);
/* Drops every rank's channel (the job's machines are going). */
void ucv_engine_container_forget(UcvJobRun *run);
/* The exit code the rank's container reported, if it did. */
gboolean ucv_engine_container_exit_code(UcvJobRun *run, guint rank, gint *code);

G_END_DECLS
