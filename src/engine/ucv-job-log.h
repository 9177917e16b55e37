/* Log lines about a job: its id (and domain, if any) as structured fields and in the text. */
#pragma once

#include <glib.h>

#define ucv_job_log(level, job_id, domain, ...)                                                    \
	g_log_structured(G_LOG_DOMAIN, level, "UCV_JOB_ID", (job_id), "UCV_DOMAIN",                \
			 (domain) != NULL ? (domain) : "", "MESSAGE", __VA_ARGS__)
