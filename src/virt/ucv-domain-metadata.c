/* Parses the provider's <metadata> element of a domain: the job id, rank and GPU devices. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-domain-metadata.h"

#include <string.h>

#include "model/ucv-error.h"

/* The metadata element is <job> with <id>, <rank> and any number of <gpu> children in
 * UCV_DOMAIN_METADATA_URI; libvirt hands it back with or without the prefix, so only local names
 * are compared. */
typedef enum {
	UCV_METADATA_OTHER,
	UCV_METADATA_ID,
	UCV_METADATA_RANK,
	UCV_METADATA_GPU,
} UcvMetadataField;

typedef struct {
	UcvMetadataField current;
	gchar *id;
	gchar *rank;
	GPtrArray *gpus;
} UcvMetadataParse;

static UcvMetadataField
ucv_metadata_field(const gchar *element)
{
	const gchar *colon = strchr(element, ':');
	const gchar *local = colon != NULL ? colon + 1 : element;

	if (g_strcmp0(local, "id") == 0)
		return UCV_METADATA_ID;
	if (g_strcmp0(local, "rank") == 0)
		return UCV_METADATA_RANK;
	if (g_strcmp0(local, "gpu") == 0)
		return UCV_METADATA_GPU;
	return UCV_METADATA_OTHER;
}

static void
ucv_metadata_start(GMarkupParseContext *context, const gchar *element, const gchar **names,
		   const gchar **values, gpointer user_data, GError **error)
{
	UcvMetadataParse *parse = user_data;

	parse->current = ucv_metadata_field(element);
}

static void
ucv_metadata_end(GMarkupParseContext *context, const gchar *element, gpointer user_data,
		 GError **error)
{
	UcvMetadataParse *parse = user_data;

	parse->current = UCV_METADATA_OTHER;
}

static void
ucv_metadata_text(GMarkupParseContext *context, const gchar *text, gsize len, gpointer user_data,
		  GError **error)
{
	UcvMetadataParse *parse = user_data;

	if (parse->current == UCV_METADATA_ID && parse->id == NULL)
		parse->id = g_strndup(text, len);
	else if (parse->current == UCV_METADATA_RANK && parse->rank == NULL)
		parse->rank = g_strndup(text, len);
	else if (parse->current == UCV_METADATA_GPU)
		g_ptr_array_add(parse->gpus, g_strndup(text, len));
}

/* parse keeps what it found even when the XML is malformed, so the caller frees it either way */
static gboolean
ucv_metadata_scan(const gchar *xml, UcvMetadataParse *parse, GError **error)
{
	const GMarkupParser parser = {ucv_metadata_start, ucv_metadata_end, ucv_metadata_text, NULL,
				      NULL};
	g_autoptr(GMarkupParseContext) context =
		g_markup_parse_context_new(&parser, 0, parse, NULL);

	return g_markup_parse_context_parse(context, xml, -1, error) &&
	       g_markup_parse_context_end_parse(context, error);
}

gboolean
ucv_domain_metadata_parse(const gchar *xml, gchar **job_id, guint *rank, GStrv *gpu_devices,
			  GError **error)
{
	UcvMetadataParse parse = {.gpus = g_ptr_array_new_with_free_func(g_free)};
	gboolean ok = ucv_metadata_scan(xml, &parse, error);
	g_autofree gchar *id = g_steal_pointer(&parse.id);
	g_autofree gchar *rank_text = g_steal_pointer(&parse.rank);
	g_autoptr(GPtrArray) gpus = g_steal_pointer(&parse.gpus);
	guint64 value = 0;

	if (!ok)
		return FALSE;
	if (id == NULL || id[0] == '\0' || rank_text == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "metadata lacks the job id or rank");
		return FALSE;
	}
	if (!g_ascii_string_to_unsigned(rank_text, 10, 0, G_MAXUINT, &value, error))
		return FALSE;
	*job_id = g_steal_pointer(&id);
	*rank = (guint)value;
	if (gpu_devices != NULL) {
		g_ptr_array_add(gpus, NULL);
		*gpu_devices = (GStrv)g_ptr_array_free(g_steal_pointer(&gpus), FALSE);
	}
	return TRUE;
}
