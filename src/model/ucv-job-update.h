/* One JobUpdate for Core's jobs/control/update: a state change, a status line, or a new time. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ucv-job.h"

G_BEGIN_DECLS

typedef struct {
	gboolean has_state;
	UcvJobState state;
	gchar *status;                 /* NULL = no status line */
	gint64 new_time_allocation_ms; /* 0 = unchanged */
} UcvJobUpdate;

UcvJobUpdate *ucv_job_update_new(void);
UcvJobUpdate *ucv_job_update_new_state(UcvJobState state, const gchar *status);
UcvJobUpdate *ucv_job_update_new_status(const gchar *status);
void ucv_job_update_free(UcvJobUpdate *self);

/* The JobUpdate object in Core's current wire form ("timestamp":0, never null). */
JsonNode *ucv_job_update_to_json(const UcvJobUpdate *self);
gchar *ucv_job_update_to_string(const UcvJobUpdate *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJobUpdate, ucv_job_update_free)

G_END_DECLS
