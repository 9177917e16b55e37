/* Unit tests for UCloud's command-line builder (DOCKER tools) and the job script it writes. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-invocation.h"

/* this binary, which the job script runs to report the words it received */
static gchar *self_exe = NULL;

/* Fragments are written with ' for " to keep them readable. */
static gchar *
relaxed(const gchar *fragment)
{
	return g_strdelimit(g_strdup(fragment), "'", '"');
}

/* A JSON string literal with ' escaped, so that relaxed() leaves it alone. */
static gchar *
json_quote(const gchar *str)
{
	g_autoptr(JsonNode) node = json_node_init_string(json_node_alloc(), str);
	g_autofree gchar *literal = json_to_string(node, FALSE);
	g_auto(GStrv) parts = g_strsplit(literal, "'", -1);

	return g_strjoinv("\\u0027", parts);
}

/* A Job the way current Core sends it, with the application resolved. */
static gchar *
make_job(const gchar *invocation, const gchar *parameters, const gchar *values,
	 const gchar *environment)
{
	g_autofree gchar *inv = relaxed(invocation);
	g_autofree gchar *params = relaxed(parameters);
	g_autofree gchar *vals = relaxed(values != NULL ? values : "null");
	g_autofree gchar *env = relaxed(environment != NULL ? environment : "null");

	return g_strdup_printf(
		"{\"id\":\"4100\",\"createdAt\":1732540000123,"
		"\"owner\":{\"createdBy\":\"alice#1234\",\"project\":null},\"updates\":[],"
		"\"specification\":{\"product\":{\"id\":\"c-1\",\"category\":\"c\","
		"\"provider\":\"example\"},\"application\":{\"name\":\"acme-batch\","
		"\"version\":\"1.0.0\"},\"name\":null,\"replicas\":1,\"parameters\":%s,"
		"\"resources\":[{\"type\":\"file\",\"path\":\"/123/data\",\"mountPath\":\"\","
		"\"readOnly\":true,\"value\":null,\"hostname\":\"\",\"jobId\":\"\",\"id\":\"\","
		"\"port\":0,\"tls\":false}],"
		"\"timeAllocation\":{\"hours\":1,\"minutes\":0,\"seconds\":0}},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"resolvedApplication\":{\"metadata\":{"
		"\"name\":\"acme-batch\",\"version\":\"1.0.0\",\"title\":\"Acme\"},"
		"\"invocation\":{\"tool\":{\"name\":\"acme-batch\",\"version\":\"1.0.0\","
		"\"tool\":{\"description\":{\"backend\":\"DOCKER\",\"image\":"
		"\"acme/batch:1.0.0\"}}},\"invocation\":%s,\"parameters\":%s,"
		"\"environment\":%s,\"applicationType\":\"BATCH\",\"vnc\":null,\"web\":null,"
		"\"container\":{\"changeWorkingDirectory\":true,\"runAsRoot\":false,"
		"\"runAsRealUser\":false}}}}}",
		vals, inv, params, env);
}

static UcvInvocation *
build_full(const gchar *json, const UcvInvocationPaths *paths, GError **error)
{
	g_autoptr(JsonNode) node = json_from_string(json, NULL);

	g_assert_nonnull(node);
	return ucv_invocation_build(node, paths, error);
}

static UcvInvocation *
build_ok(const gchar *invocation, const gchar *parameters, const gchar *values,
	 const gchar *environment)
{
	g_autofree gchar *json = make_job(invocation, parameters, values, environment);
	g_autoptr(GError) error = NULL;
	UcvInvocation *inv = build_full(json, NULL, &error);

	g_assert_no_error(error);
	g_assert_nonnull(inv);
	return inv;
}

static void
build_fails(const gchar *invocation, const gchar *parameters, const gchar *values, gint code,
	    const gchar *mention)
{
	g_autofree gchar *json = make_job(invocation, parameters, values, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvInvocation) inv = build_full(json, NULL, &error);

	g_assert_error(error, UCV_ERROR, code);
	g_assert_null(inv);
	if (strstr(error->message, mention) == NULL)
		g_error("\"%s\" does not mention \"%s\"", error->message, mention);
}

static void
assert_strv(GStrv got, const gchar *const *want)
{
	if (!g_strv_equal((const gchar *const *)got, want)) {
		g_autofree gchar *g = g_strjoinv("|", got);
		g_autofree gchar *w = g_strjoinv("|", (gchar **)want);

		g_error("got [%s], want [%s]", g, w);
	}
}

#define ASSERT_ARGV(inv, ...) assert_strv((inv)->argv, (const gchar *const[]){__VA_ARGS__, NULL})
#define ASSERT_ENV(inv, ...)                                                                       \
	assert_strv((inv)->environment, (const gchar *const[]){__VA_ARGS__, NULL})

/* spec §8: the boolean under prefixGlobal "--debug " is rendered too */
static const gchar *acme_invocation =
	"[{'type':'word','word':'acme-batch'},"
	"{'type':'var','variableNames':['debug'],'prefixGlobal':'--debug ','suffixGlobal':'',"
	"'prefixVariable':'','suffixVariable':'','isPrefixVariablePartOfArg':false,"
	"'isSuffixVariablePartOfArg':false},"
	"{'type':'var','variableNames':['value'],'prefixGlobal':'','suffixGlobal':'',"
	"'prefixVariable':'','suffixVariable':'','isPrefixVariablePartOfArg':false,"
	"'isSuffixVariablePartOfArg':false}]";
static const gchar *acme_parameters =
	"[{'type':'boolean','name':'debug','optional':true,'defaultValue':null,'title':'Debug',"
	"'description':'','trueValue':'true','falseValue':'false'},"
	"{'type':'text','name':'value','optional':false,'defaultValue':null,'title':'Value',"
	"'description':''}]";

static void
test_invocation_acme(void)
{
	/* current Core writes every key of a value, and injects ucMetricSampleRate */
	g_autoptr(UcvInvocation) inv = build_ok(
		acme_invocation, acme_parameters,
		"{'debug':{'type':'boolean','path':'','mountPath':'','readOnly':false,'value':true,"
		"'hostname':'','jobId':'','id':'','port':0,'tls':false},"
		"'value':{'type':'text','path':'','mountPath':'','readOnly':false,"
		"'value':'Hello, World!','hostname':'','jobId':'','id':'','port':0,'tls':false},"
		"'ucMetricSampleRate':{'type':'text','value':'60'}}",
		NULL);
	g_autofree gchar *script = ucv_invocation_to_script(inv, 0);

	ASSERT_ARGV(inv, "acme-batch", "--debug", "true", "Hello, World!");
	g_assert_cmpuint(g_strv_length(inv->environment), ==, 0);
	g_assert_cmpstr(script, ==,
			"#!/bin/sh\ncd /work\nexec 'acme-batch' '--debug' 'true' 'Hello, World!'"
			" > /work/stdout-0.log 2>&1\n");
}

static void
test_invocation_acme_documented(void)
{
	/* the documented form sends only each value's own keys; debug false drops nothing */
	g_autoptr(UcvInvocation) inv = build_ok(acme_invocation, acme_parameters,
						"{'debug':{'type':'boolean','value':false},"
						"'value':{'type':'text','value':'Hello, World!'}}",
						NULL);
	g_autoptr(UcvInvocation) without =
		build_ok(acme_invocation, acme_parameters,
			 "{'value':{'type':'text','value':'Hello, World!'}}", NULL);

	ASSERT_ARGV(inv, "acme-batch", "--debug", "false", "Hello, World!");
	ASSERT_ARGV(without, "acme-batch", "Hello, World!");
}

static const gchar *flag_parameters =
	"[{'type':'boolean','name':'verbose','optional':true,'trueValue':'yes','falseValue':'no'}]";

static void
test_invocation_bool_flag(void)
{
	const gchar *inv_json =
		"[{'type':'word','word':'run'},"
		"{'type':'bool_flag','variableName':'verbose','flag':' --verbose '}]";
	g_autoptr(UcvInvocation) on = build_ok(inv_json, flag_parameters,
					       "{'verbose':{'type':'boolean','value':true}}", NULL);
	g_autoptr(UcvInvocation) off = build_ok(
		inv_json, flag_parameters, "{'verbose':{'type':'boolean','value':false}}", NULL);
	g_autoptr(UcvInvocation) unset = build_ok(inv_json, flag_parameters, NULL, NULL);
	/* trueValue/falseValue matter to var, not to bool_flag */
	g_autoptr(UcvInvocation) as_var =
		build_ok("[{'type':'var','variableNames':['verbose']}]", flag_parameters,
			 "{'verbose':{'type':'boolean','value':false}}", NULL);

	ASSERT_ARGV(on, "run", "--verbose");
	ASSERT_ARGV(off, "run");
	ASSERT_ARGV(unset, "run");
	ASSERT_ARGV(as_var, "no");
}

static const gchar *var_parameters = "[{'type':'integer','name':'myVariable','optional':true},"
				     "{'type':'text','name':'mySecondVariable','optional':true},"
				     "{'type':'text','name':'third','optional':true}]";

static void
test_invocation_var_affixes(void)
{
	/* the examples of UCloud's own documentation of VariableInvocationParameter */
	g_autoptr(UcvInvocation) glued_prefix =
		build_ok("[{'type':'var','variableNames':['myVariable'],'prefixGlobal':'--entries',"
			 "'prefixVariable':'--entry','suffixVariable':'--next',"
			 "'isPrefixVariablePartOfArg':true,'isSuffixVariablePartOfArg':false}]",
			 var_parameters, "{'myVariable':{'type':'integer','value':42}}", NULL);
	g_autoptr(UcvInvocation) glued_suffix = build_ok(
		"[{'type':'var','variableNames':['myVariable','mySecondVariable'],"
		"'prefixGlobal':'--entries','prefixVariable':'--entry','suffixVariable':'--next',"
		"'suffixGlobal':'--endOfEntries','isPrefixVariablePartOfArg':false,"
		"'isSuffixVariablePartOfArg':true}]",
		var_parameters,
		"{'myVariable':{'type':'integer','value':42},"
		"'mySecondVariable':{'type':'text','value':'hello'}}",
		NULL);
	/* affixes lose their blanks; separate ones become words of their own */
	g_autoptr(UcvInvocation) separate = build_ok(
		"[{'type':'var','variableNames':['mySecondVariable'],'prefixVariable':' -i ',"
		"'suffixVariable':' ;'}]",
		var_parameters, "{'mySecondVariable':{'type':'text','value':' a b '}}", NULL);
	g_autoptr(UcvInvocation) count =
		build_ok("[{'type':'var','variableNames':['myVariable','mySecondVariable'],"
			 "'prefixGlobal':'--count'}]",
			 var_parameters,
			 "{'myVariable':{'type':'integer','value':42},"
			 "'mySecondVariable':{'type':'text','value':'120'}}",
			 NULL);

	ASSERT_ARGV(glued_prefix, "--entries", "--entry42", "--next");
	ASSERT_ARGV(glued_suffix, "--entries", "--entry", "42--next", "--entry", "hello--next",
		    "--endOfEntries");
	/* without global affixes, values keep their white space */
	ASSERT_ARGV(separate, "-i", " a b ", ";");
	ASSERT_ARGV(count, "--count", "42", "120");
}

static void
test_invocation_var_trims_with_global(void)
{
	/* the Go builder trims every word once a global affix is present, the values too */
	g_autoptr(UcvInvocation) inv = build_ok(
		"[{'type':'var','variableNames':['third'],'prefixGlobal':'--name',"
		"'prefixVariable':'x=','isPrefixVariablePartOfArg':true}]",
		var_parameters, "{'third':{'type':'text','value':'\\t spaced\\u00a0\\n'}}", NULL);
	g_autoptr(UcvInvocation) blank_global =
		build_ok("[{'type':'var','variableNames':['third'],'prefixGlobal':'   '}]",
			 var_parameters, "{'third':{'type':'text','value':' kept '}}", NULL);

	ASSERT_ARGV(inv, "--name", "x=\t spaced");
	ASSERT_ARGV(blank_global, " kept ");
}

static void
test_invocation_var_some_values(void)
{
	const gchar *inv_json = "[{'type':'word','word':'tool'},"
				"{'type':'var','variableNames':['myVariable','mySecondVariable',"
				"'third'],'prefixGlobal':'--in','suffixGlobal':'--end',"
				"'prefixVariable':'-v'}]";
	g_autoptr(UcvInvocation) some =
		build_ok(inv_json, var_parameters, "{'third':{'type':'text','value':'c'}}", NULL);
	g_autoptr(UcvInvocation) none = build_ok(inv_json, var_parameters, "{}", NULL);

	ASSERT_ARGV(some, "tool", "--in", "-v", "c", "--end");
	/* no value at all: nothing, not even the global affixes */
	ASSERT_ARGV(none, "tool");
}

static void
test_invocation_defaults(void)
{
	const gchar *params =
		"[{'type':'integer','name':'threads','optional':true,'defaultValue':4},"
		"{'type':'text','name':'mode','optional':false,'defaultValue':{'type':'text',"
		"'value':'fast'}},"
		"{'type':'boolean','name':'check','optional':true,'defaultValue':{'value':true},"
		"'trueValue':'on','falseValue':'off'},"
		"{'type':'floating_point','name':'ratio','optional':true,'defaultValue':2},"
		"{'type':'integer','name':'fractional','optional':true,'defaultValue':2.0},"
		"{'type':'text','name':'wrong','optional':true,'defaultValue':5},"
		"{'type':'input_file','name':'file','optional':true,'defaultValue':'/1/x'}]";
	const gchar *inv_json =
		"[{'type':'var','variableNames':['threads','mode','check','ratio','fractional',"
		"'wrong','file']}]";
	g_autoptr(UcvInvocation) defaults = build_ok(inv_json, params, NULL, NULL);
	g_autoptr(UcvInvocation) overridden = build_ok(inv_json, params,
						       "{'threads':{'type':'integer','value':16},"
						       "'check':{'type':'boolean','value':false}}",
						       NULL);

	/* defaults of a wrong JSON type, and of types without defaults, are not used */
	ASSERT_ARGV(defaults, "4", "fast", "on", "2");
	ASSERT_ARGV(overridden, "16", "fast", "off", "2");
}

static void
test_invocation_mismatched_type(void)
{
	const gchar *params = "[{'type':'integer','name':'n','optional':true,'defaultValue':7},"
			      "{'type':'text','name':'t','optional':true}]";
	const gchar *inv_json = "[{'type':'var','variableNames':['n','t']}]";
	/* a value of another type is ignored, so the default stays */
	g_autoptr(UcvInvocation) inv =
		build_ok(inv_json, params,
			 "{'n':{'type':'text','value':'12'},'t':{'type':'integer','value':3},"
			 "'unknown':{'type':'text','value':'x'}}",
			 NULL);

	ASSERT_ARGV(inv, "7");
}

static void
test_invocation_enumeration(void)
{
	const gchar *params = "[{'type':'enumeration','name':'algo','optional':false,"
			      "'options':[{'name':'Fast','value':'--fast'},"
			      "{'name':'Exact','value':'--exact'}]}]";
	const gchar *inv_json = "[{'type':'var','variableNames':['algo']}]";
	g_autoptr(UcvInvocation) named =
		build_ok(inv_json, params, "{'algo':{'type':'text','value':'Exact'}}", NULL);
	g_autoptr(UcvInvocation) unnamed =
		build_ok(inv_json, params, "{'algo':{'type':'text','value':'--fast'}}", NULL);

	ASSERT_ARGV(named, "--exact");
	ASSERT_ARGV(unnamed, "--fast");
}

static void
test_invocation_numbers(void)
{
	const gchar *params = "[{'type':'integer','name':'a','optional':true},"
			      "{'type':'integer','name':'b','optional':true},"
			      "{'type':'integer','name':'c','optional':true},"
			      "{'type':'floating_point','name':'d','optional':true},"
			      "{'type':'floating_point','name':'e','optional':true},"
			      "{'type':'floating_point','name':'f','optional':true},"
			      "{'type':'floating_point','name':'g','optional':true},"
			      "{'type':'floating_point','name':'h','optional':true},"
			      "{'type':'floating_point','name':'i','optional':true},"
			      "{'type':'floating_point','name':'j','optional':true}]";
	g_autoptr(UcvInvocation) inv = build_ok(
		"[{'type':'var','variableNames':['a','b','c','d','e','f','g','h','i','j']}]",
		params,
		"{'a':{'type':'integer','value':42},'b':{'type':'integer','value':1000000},"
		"'c':{'type':'integer','value':-3.0},'d':{'type':'floating_point','value':2.5},"
		"'e':{'type':'floating_point','value':1.0},"
		"'f':{'type':'floating_point','value':1234567.5},"
		"'g':{'type':'floating_point','value':0.0001},"
		"'h':{'type':'floating_point','value':0.00001},"
		"'i':{'type':'floating_point','value':0.1},"
		"'j':{'type':'floating_point','value':-123456.25}}",
		NULL);

	/* fractions as Go's fmt prints a float64 */
	ASSERT_ARGV(inv, "42", "1000000", "-3", "2.5", "1", "1.2345675e+06", "0.0001", "1e-05",
		    "0.1", "-123456.25");
}

static gchar *
file_path_in_mnt(const gchar *ucloud_path, gpointer user_data)
{
	g_assert_cmpstr(user_data, ==, "ctx");
	if (g_str_has_suffix(ucloud_path, "missing"))
		return NULL;
	return g_strconcat("/mnt", ucloud_path, NULL);
}

static void
test_invocation_files_and_peers(void)
{
	const gchar *params = "[{'type':'input_file','name':'in','optional':false},"
			      "{'type':'input_directory','name':'dir','optional':true},"
			      "{'type':'peer','name':'db','optional':true},"
			      "{'type':'network_ip','name':'ip','optional':true},"
			      "{'type':'ingress','name':'link','optional':true},"
			      "{'type':'license_server','name':'lic','optional':true}]";
	const gchar *inv_json =
		"[{'type':'var','variableNames':['in','dir','db','ip','link','lic']}]";
	const gchar *values =
		"{'in':{'type':'file','path':'/123/home/data/in.csv','readOnly':true},"
		"'dir':{'type':'file','path':'/123/home/results/','readOnly':false},"
		"'db':{'type':'peer','hostname':'postgres','jobId':'4099'},"
		"'ip':{'type':'network','id':'ip-1'},'link':{'type':'ingress','id':'l-2'},"
		"'lic':{'type':'license_server','id':'lic-3'}}";
	UcvInvocationPaths paths = {.file_path = file_path_in_mnt, .user_data = (gpointer) "ctx"};
	g_autofree gchar *json = make_job(inv_json, params, values, NULL);
	g_autofree gchar *missing_json =
		make_job(inv_json, params, "{'in':{'type':'file','path':'/123/missing'}}", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvInvocation) dflt = build_full(json, NULL, &error);
	g_autoptr(UcvInvocation) mapped = NULL;
	g_autoptr(UcvInvocation) missing = NULL;

	g_assert_no_error(error);
	ASSERT_ARGV(dflt, "/work/in.csv", "/work/results", "postgres", "ip-1", "l-2", "lic-3");
	mapped = build_full(json, &paths, &error);
	g_assert_no_error(error);
	ASSERT_ARGV(mapped, "/mnt/123/home/data/in.csv", "/mnt/123/home/results/", "postgres",
		    "ip-1", "l-2", "lic-3");
	missing = build_full(missing_json, &paths, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(missing);
	g_assert_nonnull(strstr(error->message, "/123/missing"));
}

static void
test_invocation_environment(void)
{
	g_autoptr(UcvInvocation) inv = build_ok(
		"[{'type':'word','word':'app'},{'type':'env','variable':'HOME'},"
		"{'type':'env','variable':'1bad;id'}]",
		var_parameters, "{'myVariable':{'type':'integer','value':8}}",
		"{'THREADS':{'type':'var','variableNames':['myVariable'],'prefixGlobal':'-t'},"
		"'EMPTY':{'type':'var','variableNames':['third']},"
		"'GREETING':{'type':'word','word':'hello world'},"
		"'REF':{'type':'env','variable':'HOME'},"
		"'SKIPPED':null}");
	g_autofree gchar *script = ucv_invocation_to_script(inv, 2);

	ASSERT_ENV(inv, "THREADS=-t 8", "EMPTY=", "GREETING=hello world", "REF=$HOME");
	ASSERT_ARGV(inv, "app", "$HOME", "$1bad;id");
	g_assert_false(inv->expand[0]);
	g_assert_true(inv->expand[1]);
	/* not a shell name: passed literally */
	g_assert_false(inv->expand[2]);
	g_assert_cmpstr(script, ==,
			"#!/bin/sh\ncd /work\nexec 'app' \"$HOME\" '$1bad;id'"
			" > /work/stdout-2.log 2>&1\n");
}

static void
test_invocation_errors(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvInvocation) inv = NULL;
	g_autoptr(JsonNode) no_app = json_from_string(
		"{\"id\":\"1\",\"specification\":{\"parameters\":null},\"status\":{}}", NULL);

	build_fails(acme_invocation, acme_parameters, "{'debug':{'type':'boolean','value':true}}",
		    UCV_ERROR_INVALID, "'value'");
	/* a value of the wrong type is no value */
	build_fails(acme_invocation, acme_parameters, "{'value':{'type':'integer','value':1}}",
		    UCV_ERROR_INVALID, "'value'");
	build_fails("[{'type':'word','word':'a'},{'type':'shell','command':'id'}]", "[]", NULL,
		    UCV_ERROR_INVALID, "\"shell\"");
	build_fails("[{'type':'jinja','template':'{{ x }}'}]", "[]", NULL, UCV_ERROR_NOT_SUPPORTED,
		    "jinja");
	build_fails("[{'type':'var','variableNames':'value'}]", acme_parameters,
		    "{'value':{'type':'text','value':'x'}}", UCV_ERROR_INVALID, "variableNames");
	build_fails("[{'type':'var','variableNames':['value']}]", acme_parameters,
		    "{'value':{'type':'text','value':7}}", UCV_ERROR_INVALID, "'value'");
	build_fails("[]", "[{'type':'text'}]", NULL, UCV_ERROR_INVALID, "name");
	build_fails("[]", acme_parameters, "{'value':'Hello'}", UCV_ERROR_INVALID,
		    "parameters.value");

	inv = ucv_invocation_build(no_app, NULL, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(inv);
	g_assert_nonnull(strstr(error->message, "resolvedApplication"));
}

/* Each word arrives exactly as built: the script is run by /bin/sh in a scratch folder, and
 * execs this binary, which writes its arguments NUL-separated. */
static const gchar *const hostile_words[] = {
	"it's",
	"line1\nline2",
	"$(id)",
	"`id`",
	"a b  c",
	"*",
	"\\",
	"\"dq\" '' \\'",
	"'",
	"'\"'\"'",
	"$HOME",
	"${HOME}",
	"~",
	";exit 3 #",
	"-n",
	"",
	"\tünïcødé ✓ 日本\r",
	"!!",
	"&& echo hi >&2",
};

static gchar *
run_script(const gchar *script, const gchar *tmpdir, const gchar *work_suffix, gsize *len)
{
	g_autofree gchar *path = g_build_filename(tmpdir, "job.sh", NULL);
	g_autofree gchar *out = g_build_filename(tmpdir, "stdout.log", NULL);
	g_autofree gchar *quoted_dir = g_shell_quote(tmpdir);
	g_autofree gchar *quoted_out = g_shell_quote(out);
	g_autofree gchar *body = NULL;
	g_autofree gchar *runnable = NULL;
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "UCV_TEST_WORD", "a b *", TRUE);
	const gchar *spawn_argv[] = {"/bin/sh", path, NULL};
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;
	gint status = 0;

	/* only the two /work paths change: the job's folder and its log */
	g_assert_true(g_str_has_prefix(script, "#!/bin/sh\ncd /work\nexec "));
	g_assert_true(g_str_has_suffix(script, work_suffix));
	body = g_strndup(script + strlen("#!/bin/sh\ncd /work\n"),
			 strlen(script) - strlen("#!/bin/sh\ncd /work\n") - strlen(work_suffix));
	runnable =
		g_strdup_printf("#!/bin/sh\ncd %s\n%s > %s 2>&1\n", quoted_dir, body, quoted_out);
	g_assert_true(g_file_set_contents(path, runnable, -1, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_sync(tmpdir, (gchar **)spawn_argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
				   NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(out, &contents, len, &error));
	g_assert_no_error(error);
	g_unlink(out);
	g_unlink(path);
	return contents;
}

static gchar *
hostile_job(void)
{
	g_autoptr(GString) invocation = g_string_new("[");
	g_autoptr(GString) params = g_string_new("[");
	g_autoptr(GString) values = g_string_new("{");
	g_autofree gchar *exe = json_quote(self_exe);

	g_string_append_printf(invocation,
			       "{'type':'word','word':%s},{'type':'word','word':'--print-args'},"
			       "{'type':'env','variable':'UCV_TEST_WORD'}",
			       exe);
	for (guint i = 0; i < G_N_ELEMENTS(hostile_words); i++) {
		g_autofree gchar *word = json_quote(hostile_words[i]);

		/* once from the application's words, once from the user's values */
		g_string_append_printf(invocation,
				       ",{'type':'word','word':%s},"
				       "{'type':'var','variableNames':['v%u']}",
				       word, i);
		g_string_append_printf(params, "%s{'type':'text','name':'v%u','optional':false}",
				       i > 0 ? "," : "", i);
		g_string_append_printf(values, "%s'v%u':{'type':'text','value':%s}",
				       i > 0 ? "," : "", i, word);
	}
	g_string_append(invocation, "]");
	g_string_append(params, "]");
	g_string_append(values, "}");
	return make_job(invocation->str, params->str, values->str, NULL);
}

static void
test_invocation_script_quoting(void)
{
	g_autofree gchar *json = NULL;
	g_autofree gchar *tmpdir = NULL;
	g_autofree gchar *script = NULL;
	g_autofree gchar *output = NULL;
	g_autoptr(GString) expected = g_string_new(NULL);
	g_autoptr(UcvInvocation) inv = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	json = hostile_job();
	inv = build_full(json, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(inv->argv), ==, 3 + 2 * G_N_ELEMENTS(hostile_words));

	tmpdir = g_dir_make_tmp("ucv-invocation-XXXXXX", &error);
	g_assert_no_error(error);
	script = ucv_invocation_to_script(inv, 7);
	output = run_script(script, tmpdir, " > /work/stdout-7.log 2>&1\n", &len);
	g_rmdir(tmpdir);

	/* the env word is expanded to one word; everything else arrives literally */
	g_string_append_len(expected, "a b *", sizeof "a b *");
	for (guint i = 0; i < G_N_ELEMENTS(hostile_words); i++) {
		g_string_append_len(expected, hostile_words[i], strlen(hostile_words[i]) + 1);
		g_string_append_len(expected, hostile_words[i], strlen(hostile_words[i]) + 1);
	}
	g_assert_cmpmem(output, len, expected->str, expected->len);
}

/* Quotes in the words the fragments cannot carry: built directly. */
static void
test_invocation_script_single_quotes(void)
{
	const gchar *words[] = {self_exe, "--print-args", "it's",    "'",
				"''",     "a'\"'\"'b",    "'$(id)'", NULL};
	gboolean expand[G_N_ELEMENTS(words)] = {FALSE};
	UcvInvocation inv = {.argv = (GStrv)words, .expand = expand, .environment = NULL};
	g_autofree gchar *script = ucv_invocation_to_script(&inv, 0);
	g_autofree gchar *tmpdir = NULL;
	g_autofree gchar *output = NULL;
	g_autoptr(GString) expected = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	g_assert_nonnull(strstr(script, " 'it'\"'\"'s' "));
	tmpdir = g_dir_make_tmp("ucv-invocation-XXXXXX", &error);
	g_assert_no_error(error);
	output = run_script(script, tmpdir, " > /work/stdout-0.log 2>&1\n", &len);
	g_rmdir(tmpdir);
	for (guint i = 2; words[i] != NULL; i++)
		g_string_append_len(expected, words[i], strlen(words[i]) + 1);
	g_assert_cmpmem(output, len, expected->str, expected->len);
}

static int
print_args(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		fwrite(argv[i], 1, strlen(argv[i]) + 1, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && g_strcmp0(argv[1], "--print-args") == 0)
		return print_args(argc - 2, argv + 2);

	g_test_init(&argc, &argv, NULL);
	self_exe = g_file_read_link("/proc/self/exe", NULL);
	g_assert_nonnull(self_exe);
	g_test_add_func("/invocation/acme", test_invocation_acme);
	g_test_add_func("/invocation/acme-documented", test_invocation_acme_documented);
	g_test_add_func("/invocation/bool-flag", test_invocation_bool_flag);
	g_test_add_func("/invocation/var-affixes", test_invocation_var_affixes);
	g_test_add_func("/invocation/var-trims-with-global", test_invocation_var_trims_with_global);
	g_test_add_func("/invocation/var-some-values", test_invocation_var_some_values);
	g_test_add_func("/invocation/defaults", test_invocation_defaults);
	g_test_add_func("/invocation/mismatched-type", test_invocation_mismatched_type);
	g_test_add_func("/invocation/enumeration", test_invocation_enumeration);
	g_test_add_func("/invocation/numbers", test_invocation_numbers);
	g_test_add_func("/invocation/files-and-peers", test_invocation_files_and_peers);
	g_test_add_func("/invocation/environment", test_invocation_environment);
	g_test_add_func("/invocation/errors", test_invocation_errors);
	g_test_add_func("/invocation/script-quoting", test_invocation_script_quoting);
	g_test_add_func("/invocation/script-single-quotes", test_invocation_script_single_quotes);
	return g_test_run();
}
