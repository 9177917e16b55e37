/* Text helpers of the command-line builder that match Go's, as UCloud's builder uses them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *ucv_invocation_trim_space(const gchar *s);
gchar *ucv_invocation_trim_blanks(const gchar *s);
gchar *ucv_invocation_format_double(gdouble v);
gboolean ucv_invocation_is_shell_name(const gchar *name);

G_END_DECLS
