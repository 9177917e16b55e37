/* A UCloud job as the provider understands it: parsed once from Core's JSON, then plain data. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
	UCV_JOB_STATE_IN_QUEUE,
	UCV_JOB_STATE_RUNNING,
	UCV_JOB_STATE_CANCELING,
	UCV_JOB_STATE_SUCCESS,
	UCV_JOB_STATE_FAILURE,
	UCV_JOB_STATE_EXPIRED,
	UCV_JOB_STATE_SUSPENDED,
} UcvJobState;

typedef enum {
	UCV_BACKEND_UNKNOWN, /* the application was not resolved in the request */
	UCV_BACKEND_VIRTUAL_MACHINE,
	UCV_BACKEND_DOCKER,
	UCV_BACKEND_NATIVE,
	UCV_BACKEND_OTHER, /* resolved, but a backend this provider does not know */
} UcvBackend;

typedef struct {
	gchar *id;
	gint64 created_at_ms;
	gchar *created_by;         /* owner.createdBy */
	gchar *project;            /* owner.project, NULL for personal workspaces */
	gchar *product_id;         /* specification.product.id */
	gchar *product_category;   /* specification.product.category */
	gchar *product_provider;   /* specification.product.provider */
	gchar *app_name;           /* specification.application.name */
	gchar *app_version;        /* specification.application.version */
	gchar *name;               /* specification.name, may be NULL */
	gchar *hostname;           /* specification.hostname, may be NULL */
	guint replicas;            /* specification.replicas, 1 when absent */
	gint64 time_allocation_ms; /* specification.timeAllocation, 0 when absent */
	gboolean ssh_enabled;
	gint64 disk_size_gib;    /* the diskSize parameter, 0 when absent */
	gchar *init_script;      /* label ucloud.dk/init-script, may be NULL */
	gboolean app_resolved;   /* status.resolvedApplication was present */
	UcvBackend backend;      /* resolvedApplication...tool.description.backend */
	gchar *backend_name;     /* the backend as sent, e.g. "DOCKER" */
	gchar *image;            /* resolvedApplication...tool.description.image */
	gboolean run_as_root;    /* resolvedApplication.invocation.container.runAsRoot (DOCKER) */
	gchar *application_type; /* resolvedApplication.invocation.applicationType (BATCH, WEB, VNC)
				  */
	guint web_port;          /* resolvedApplication.invocation.web.port, 0 when absent */
	guint vnc_port;          /* resolvedApplication.invocation.vnc.port, 0 when absent */
	gchar *vnc_password;     /* resolvedApplication.invocation.vnc.password, may be NULL */
	gchar *json;             /* the Job exactly as received (compact JSON) */
} UcvJob;

UcvJob *ucv_job_new_from_json(JsonNode *node, GError **error);
UcvJob *ucv_job_new_from_string(const gchar *json, GError **error);
UcvJob *ucv_job_ref(UcvJob *self);
void ucv_job_unref(UcvJob *self);

const gchar *ucv_job_state_to_string(UcvJobState state);
gboolean ucv_job_state_from_string(const gchar *str, UcvJobState *state);
gboolean ucv_job_state_is_final(UcvJobState state);
const gchar *ucv_backend_to_string(UcvBackend backend);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJob, ucv_job_unref)

G_END_DECLS
