/* What this build of the provider really offers; feeds ComputeSupport in retrieveProducts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gboolean vm_enabled;
	gboolean vm_logs;
	gboolean vm_vnc;
	gboolean vm_terminal;
	gboolean vm_time_extension;
	gboolean vm_suspension;
	gboolean vm_utilization;
	gboolean docker_enabled;
	gboolean docker_web;
	gboolean docker_vnc;
	gboolean docker_logs;
	gboolean docker_terminal;
	gboolean docker_peers;
	gboolean docker_time_extension;
	gboolean docker_utilization;
} UcvFeatures;

G_END_DECLS
