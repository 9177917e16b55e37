/* Blocking domain operations on a libvirt connection; safe from any thread. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "virt/ucv-domain-info.h"

G_BEGIN_DECLS

/* Every domain (running or not) that carries the provider's metadata: GPtrArray of UcvDomainInfo.
 */
GPtrArray *ucv_domain_ops_list(virConnectPtr conn, GError **error);

/* NULL without error when the domain does not exist; job_id NULL without readable metadata. */
UcvDomainInfo *ucv_domain_ops_lookup(virConnectPtr conn, const gchar *name, GError **error);

typedef enum {
	UCV_DOMAIN_START_STARTED,     /* started (or restored from its managed-save image) */
	UCV_DOMAIN_START_WAS_RUNNING, /* it ran already, so no STARTED event will follow */
	UCV_DOMAIN_START_BOOTED_FRESH /* its managed-save image would not restore: set aside */
} UcvDomainStart;

typedef struct {
	UcvDomainStart outcome;
	gchar *set_aside; /* BOOTED_FRESH: where the image that failed to restore now is */
} UcvDomainStartResult;

void ucv_domain_start_result_free(UcvDomainStartResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvDomainStartResult, ucv_domain_start_result_free)

/* Defines the domain persistently and starts it, keeping the UUID of an older definition. A
 * managed-save image that fails to restore is renamed <name>.save.corrupt-<unix time> in
 * save_dir (libvirt's directory for them, as this process sees it; NULL: never) and the domain
 * boots from its disk instead. */
UcvDomainStartResult *ucv_domain_ops_start(virConnectPtr conn, const gchar *xml,
					   const gchar *save_dir, GError **error);

/* Starts a defined domain as it is (restoring its managed-save image, if it has one); one that
 * runs already is fine. */
gboolean ucv_domain_ops_start_existing(virConnectPtr conn, const gchar *name, GError **error);

/* Saves the running domain's memory into its managed-save image and stops it (libvirt's
 * virDomainManagedSave with `flags`). A domain that is already stopped with such an image is
 * done already. */
gboolean ucv_domain_ops_managed_save(virConnectPtr conn, const gchar *name, guint flags,
				     GError **error);

/* A connection to the running domain's VNC server that skips its authentication (the caller
 * has already admitted the client): a socket descriptor, owned by the caller; -1 on error. */
int ucv_domain_ops_open_graphics(virConnectPtr conn, const gchar *name, GError **error);
/* The domain's IPv4 address on its libvirt network (DHCP lease); none yet is
 * UCV_ERROR_UNAVAILABLE. */
gchar *ucv_domain_ops_get_address(virConnectPtr conn, const gchar *name, GError **error);
/* Attaches a new non-blocking stream to the running domain's serial console. Another client
 * holding the console (an admin's `virsh console`) is UCV_ERROR_UNAVAILABLE: it is not taken
 * from them. */
virStreamPtr ucv_domain_ops_open_console(virConnectPtr conn, const gchar *name, GError **error);

/* Destroys and undefines the domain with its managed-save image; a missing one is no error. */
gboolean ucv_domain_ops_remove(virConnectPtr conn, const gchar *name, GError **error);

G_END_DECLS
