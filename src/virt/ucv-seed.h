/* cloud-init NoCloud seeds: an ISO9660 image labelled "cidata" made with libisofs. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
	const gchar *instance_id; /* e.g. "ucloud-<job>-<rank>"; [A-Za-z0-9._:-], at most 128 */
	const gchar *hostname;    /* one RFC 1123 label: j<jobid>-<rank> or the job's hostname */
	const gchar *const *ssh_keys; /* NULL-terminated OpenSSH public keys, or NULL */
	const gchar *user_data;       /* the job's init script (ucloud.dk/init-script) or NULL */
} UcvSeedSpec;

/* The seed holds three files (Rock Ridge and Joliet names, so they keep their case):
 *   meta-data       instance-id and local-hostname;
 *   user-data       one "#cloud-config" document: hostname, a "ucloud" user (passwordless sudo,
 *                   /bin/bash, the valid ssh keys) and, given an init script, that script
 *                   byte-for-byte as base64 in write_files (/var/lib/ucloud-virt/init-script, 0700)
 *                   plus a runcmd entry that runs it once on the first boot (directly when it
 *                   starts with "#!", else through /bin/sh);
 *   network-config  version 2, DHCPv4 on every NIC named en*.
 * Every value is written as a YAML double-quoted scalar with all but printable ASCII escaped.
 * An invalid hostname or instance id fails with UCV_ERROR_INVALID; keys that are not single-line
 * ssh-…/ecdsa-…/sk-… public keys are skipped with a warning. The ISO is written to a temporary
 * name beside `path` (mode 0600) and renamed over it. */
gboolean ucv_seed_write(const UcvSeedSpec *spec, const gchar *path, GError **error);

/* The same in a worker thread; `spec` is copied. */
void ucv_seed_write_async(const UcvSeedSpec *spec, const gchar *path, GCancellable *cancellable,
			  GAsyncReadyCallback callback, gpointer user_data);
gboolean ucv_seed_write_finish(GAsyncResult *res, GError **error);

/* TRUE for one RFC 1123 label: 1–63 of [A-Za-z0-9-], no '-' first or last. */
gboolean ucv_seed_hostname_is_valid(const gchar *hostname);

/* Returns the key as "type blob[ comment]" when it is a single-line OpenSSH public key whose
 * type starts with ssh-, ecdsa- or sk- and whose base64 blob names that type; NULL otherwise. */
gchar *ucv_seed_normalize_ssh_key(const gchar *key);

G_END_DECLS
