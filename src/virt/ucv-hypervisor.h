/* The libvirt connection: lifecycle events on the GLib loop, blocking calls in worker threads. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "virt/ucv-console-stream.h"
#include "virt/ucv-domain-info.h"
#include "virt/ucv-domain-ops.h"

G_BEGIN_DECLS

#define UCV_TYPE_HYPERVISOR (ucv_hypervisor_get_type())
G_DECLARE_FINAL_TYPE(UcvHypervisor, ucv_hypervisor, UCV, HYPERVISOR, GObject)

/* What happened to a domain, folded from libvirt's (event, detail) pairs. */
typedef enum {
	UCV_DOMAIN_EVENT_STARTED,   /* booted or restored */
	UCV_DOMAIN_EVENT_SHUTDOWN,  /* the guest powered off (or an admin's virsh shutdown) */
	UCV_DOMAIN_EVENT_DESTROYED, /* stopped from outside (virsh destroy or our own destroy) */
	UCV_DOMAIN_EVENT_CRASHED,   /* the guest panicked or QEMU died */
	UCV_DOMAIN_EVENT_FAILED,    /* libvirt reports a failure to run */
	UCV_DOMAIN_EVENT_SAVED,     /* stopped into a managed-save image */
	UCV_DOMAIN_EVENT_UNDEFINED,
	UCV_DOMAIN_EVENT_OTHER,
} UcvDomainEvent;

/* A word for logs: "started", "shutdown", "destroyed", … */
const gchar *ucv_domain_event_to_string(UcvDomainEvent event);
/* Folds libvirt's (virDomainEventType, detail) pair. */
UcvDomainEvent ucv_domain_event_from_libvirt(int event, int detail);

/* Signals:
 *   "domain-event" (const gchar *domain_name, UcvDomainEvent event as gint) — on the main
 *                  loop, only for domains named ucloud-*
 *   "connected"    () — after the first connect and after every reconnect; the engine resyncs
 *   "disconnected" () — libvirtd went away; reconnects with backoff follow */

UcvHypervisor *ucv_hypervisor_new(const gchar *uri);
/* Connects once, synchronously (the daemon refuses to start if this fails). */
gboolean ucv_hypervisor_connect(UcvHypervisor *self, GError **error);
gboolean ucv_hypervisor_is_connected(UcvHypervisor *self);
/* The current connection (borrowed, main thread only; NULL while disconnected). Take
 * virConnectRef() to keep it beyond the current main-loop iteration. */
virConnectPtr ucv_hypervisor_get_connection(UcvHypervisor *self);

/* Defines the domain persistently and starts it (worker thread). */
void ucv_hypervisor_start_domain_async(UcvHypervisor *self, const gchar *xml,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data);
/* How it started (see ucv_domain_ops_start()); NULL on error. */
UcvDomainStartResult *ucv_hypervisor_start_domain_finish(UcvHypervisor *self, GAsyncResult *res,
							 GError **error);
/* Where libvirt keeps managed-save images, as this process sees it: a start whose image fails to
 * restore moves it aside there and boots afresh. NULL (the default): such a start fails. */
void ucv_hypervisor_set_save_dir(UcvHypervisor *self, const gchar *save_dir);

/* Destroys (if running) and undefines a domain with its managed-save image (worker thread).
 * A domain that does not exist is not an error. */
void ucv_hypervisor_remove_domain_async(UcvHypervisor *self, const gchar *name,
					GCancellable *cancellable, GAsyncReadyCallback callback,
					gpointer user_data);
gboolean ucv_hypervisor_remove_domain_finish(UcvHypervisor *self, GAsyncResult *res,
					     GError **error);

/* Starts a defined domain as it is, from its managed-save image if it has one (worker thread). */
void ucv_hypervisor_start_existing_async(UcvHypervisor *self, const gchar *name,
					 GCancellable *cancellable, GAsyncReadyCallback callback,
					 gpointer user_data);
gboolean ucv_hypervisor_start_existing_finish(UcvHypervisor *self, GAsyncResult *res,
					      GError **error);

/* A connection to the running domain's VNC server, authentication skipped (worker thread). */
void ucv_hypervisor_open_graphics_async(UcvHypervisor *self, const gchar *name,
					GCancellable *cancellable, GAsyncReadyCallback callback,
					gpointer user_data);
GSocketConnection *ucv_hypervisor_open_graphics_finish(UcvHypervisor *self, GAsyncResult *res,
						       GError **error);
/* The domain's IPv4 address on its libvirt network ("10.0.0.5"); none yet is
 * UCV_ERROR_UNAVAILABLE. */
void ucv_hypervisor_get_address_async(UcvHypervisor *self, const gchar *name,
				      GCancellable *cancellable, GAsyncReadyCallback callback,
				      gpointer user_data);
gchar *ucv_hypervisor_get_address_finish(UcvHypervisor *self, GAsyncResult *res, GError **error);

/* The running domain's serial console, not yet started (worker thread). */
void ucv_hypervisor_open_console_async(UcvHypervisor *self, const gchar *name,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data);
UcvConsoleStream *ucv_hypervisor_open_console_finish(UcvHypervisor *self, GAsyncResult *res,
						     GError **error);

/* Saves a running domain's memory into its managed-save image and stops it (worker thread);
 * starting the domain again restores it. `flags` are virDomainSaveRestoreFlags. */
void ucv_hypervisor_managed_save_async(UcvHypervisor *self, const gchar *name, guint flags,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data);
gboolean ucv_hypervisor_managed_save_finish(UcvHypervisor *self, GAsyncResult *res, GError **error);

/* Every domain (running or not) that carries the provider's metadata: GPtrArray of UcvDomainInfo.
 * Safe from any thread; blocks on libvirt. */
GPtrArray *ucv_hypervisor_list_domains(UcvHypervisor *self, GError **error);
/* The same in a worker thread. */
void ucv_hypervisor_list_domains_async(UcvHypervisor *self, GCancellable *cancellable,
				       GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ucv_hypervisor_list_domains_finish(UcvHypervisor *self, GAsyncResult *res,
					      GError **error);

/* The host's size as libvirt's node info tells it (worker thread). */
typedef struct {
	guint cpus;
	guint64 memory_mib;
} UcvNodeInfo;

void ucv_hypervisor_get_node_info_async(UcvHypervisor *self, GCancellable *cancellable,
					GAsyncReadyCallback callback, gpointer user_data);
gboolean ucv_hypervisor_get_node_info_finish(UcvHypervisor *self, GAsyncResult *res,
					     UcvNodeInfo *info, GError **error);

/* Looks one domain up; returns NULL without error when it does not exist. A domain without
 * (readable) provider metadata is returned with job_id NULL. */
UcvDomainInfo *ucv_hypervisor_lookup_domain(UcvHypervisor *self, const gchar *name, GError **error);

G_END_DECLS
