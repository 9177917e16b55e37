/* The OCI runtime spec (config.json, runtime-spec 1.0.2, as crun reads it) for one rank of a
 * DOCKER job inside its container-host VM. */
#pragma once

#include <glib.h>

#include "model/ucv-invocation.h"

G_BEGIN_DECLS

/* UCloud's user inside containers, unless the application runs as root. */
#define UCV_OCI_UCLOUD_UID 11042

typedef struct {
	const gchar *source; /* the folder's path inside the VM */
	const gchar *target; /* where it appears inside the container, absolute */
	gboolean read_only;
} UcvOciMount;

typedef struct {
	const gchar *job_id;
	guint rank;
	guint replicas;
	gboolean run_as_root;  /* the application's container.runAsRoot */
	guint64 memory_bytes;  /* the product's memory; 0: unknown */
	const gchar *hostname; /* NULL: "j<job_id>-<rank>" */
	const UcvOciMount *mounts;
	guint n_mounts;
} UcvOciJob;

/* `image_config_json` is the image's config (OCI image config: config.Env, config.Entrypoint,
 * config.Cmd, …; any member may be absent); `invocation` comes from ucv_invocation_build. The
 * process runs the invocation's words (through /bin/sh -c only when a word needs expansion), or
 * the image's Entrypoint + Cmd when there are none. Errors: UCV_ERROR_INVALID (an image config
 * that is not JSON or has a member of the wrong type, named in the message; nothing to run; a
 * job without id or a mount that is not absolute). */
gchar *ucv_oci_config_build(const gchar *image_config_json, const UcvInvocation *invocation,
			    const UcvOciJob *job, GError **error);

G_END_DECLS
