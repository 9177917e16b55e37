/* How a managed save is written: plain, or through parallel channels where libvirt can. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* libvirt 11.2 saves a "sparse" image through several channels at once (QEMU multifd). */
#define UCV_PARALLEL_SAVE_MIN_VERSION 11002000UL

/* The channels to save with: 0 (a plain managed save) before libvirt 11.2, otherwise one per
 * two host CPUs, 2 to 4: enough to keep a disk busy without starving the guests. */
guint ucv_save_parallel_channels(gulong libvirt_version, guint host_cpus);

/* virDomainManagedSave, or on libvirt ≥ 11.2 (asked at run time, the daemon's version) a
 * managed save through parallel channels: virDomainSaveParams without a file is a managed
 * save. */
int ucv_save_managed(virConnectPtr conn, virDomainPtr dom, guint flags);

G_END_DECLS
