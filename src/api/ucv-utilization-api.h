/* Capacity and queue as Core reads them: retrieveUtilization and ComputeSupport's queueStatus. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

/* GET …/jobs/retrieveUtilization (documented API):
 * {"capacity":{"cpu","memory"},"usedCapacity":{…},"queueStatus":{"running","pending"}},
 * memory in bytes. */
JsonNode *ucv_utilization_api_retrieve(UcvApiRequest *request, GError **error);

/* {"running":n,"pending":n}: jobs admitted (provisioning, running or being cleaned up) and jobs
 * waiting for capacity. */
JsonNode *ucv_utilization_api_queue_status(UcvScheduler *scheduler);

G_END_DECLS
