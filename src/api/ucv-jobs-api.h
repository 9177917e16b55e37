/* Handlers for the jobs calls of the provider API (spec §2), one per route. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

JsonNode *ucv_jobs_api_create(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_terminate(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_suspend(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_unsuspend(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_extend(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_verify(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_retrieve_products(UcvApiRequest *request, GError **error);
JsonNode *ucv_jobs_api_update_acl(UcvApiRequest *request, GError **error);

G_END_DECLS
