/* The daemon's configuration: defaults in code, a GKeyFile overrides (spec/configuration.md). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	/* [provider] */
	gchar *provider_id;
	gchar *public_url;
	/* [ucloud] */
	gchar *core_url;
	gchar *refresh_token_file;
	gchar *public_key_file;
	gchar *accounting;
	guint accounting_interval;
	/* [http] */
	gchar **listen;       /* host:port entries */
	gsize max_body_bytes; /* max-body-size */
	/* [libvirt] */
	gchar *libvirt_uri;
	gchar *domain_type;
	gchar *network;
	guint reconcile_interval_s; /* reconcile-interval: seconds between sweeps */
	/* save-bypass-cache: managed saves and restores skip the host's page cache */
	gboolean save_bypass_cache;
	/* save-dir: where libvirt keeps managed-save images, as this host sees it; a corrupt one is
	 * moved aside there for the admin */
	gchar *save_dir;
	/* [storage] */
	gchar *state_dir;
	gchar *image_dir;
	/* [products] */
	gchar *products_file;
	/* [container] */
	gchar *container_kernel;
	gchar *container_initrd;
	gchar **insecure_registries;
	guint image_cache_gib; /* image-cache-size: images kept for later jobs, least recently used
				  go */
	guint max_image_gib;   /* max-image-size: a bigger image fails its job */
	guint agent_timeout_s; /* agent-timeout: a container host must say hello within this */
	/* [disks] sizes of VM disks in GiB, offered as the diskSize parameter */
	guint disk_min_gib;
	guint disk_max_gib;
	guint disk_default_gib; /* 0 = as big as the image */
	/* [jobs] */
	guint default_time_limit_s; /* default-time-limit; 0 = jobs without an allocation run on */
	/* [web] web applications of DOCKER jobs, each at app-<job>-<rank>.<domain> (wildcard DNS
	 * and certificate point there); empty: not offered */
	gchar *web_domain;
	/* [files] */
	gchar *drive_root;
	/* [scheduler] */
	guint reserved_cpus;
	guint64 reserved_memory_mib; /* reserved-memory */
	gdouble cpu_overcommit;
	gdouble memory_overcommit;
	/* [console] browser sessions (VNC, shell) */
	guint session_timeout_s; /* session-timeout: an unused session token expires */
	gchar **allowed_origins; /* allowed-origins: Origin values accepted; empty = any */
	guint log_backlog_kib;   /* log-backlog: how much of a console log follow starts with */
	/* [gpu] */
	gchar **gpu_devices; /* devices: PCI addresses (0000:3b:00.0), validated, lower case */
} UcvConfig;

UcvConfig *ucv_config_new(void);
void ucv_config_free(UcvConfig *self);
/* Overrides the defaults with the keys of `path`; unknown keys are ignored, bad values fail. */
gboolean ucv_config_load(UcvConfig *self, const gchar *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvConfig, ucv_config_free)

G_END_DECLS
