/* .jmx import: the thesis' plan, properties, what is supported and what is
 * refused or reported (core/jmx.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "load/jmeter/jmx.h"

static char dir[] = "/tmp/podgym-test-jmx-XXXXXX";

static int setup(void **state) {
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *seed_plan(void) {
    static char path[1024];
    const char *src = getenv("PODGYM_SRC");
    snprintf(path, sizeof path, "%s/tests/fixtures/Thread-Reward-Test.jmx", src ? src : ".");
    return path;
}

static int has_warning(const jmx_plan *p, const char *part) {
    for (size_t i = 0; i < p->nwarnings; i++)
        if (strstr(p->warnings[i], part)) return 1;
    return 0;
}

/* A plan around one thread group body (elements + hashTrees). */
static const char *plan_file(const char *name, const char *tg_props, const char *body) {
    static char path[4][600];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 600, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<jmeterTestPlan version=\"1.2\" properties=\"5.0\" jmeter=\"5.6.3\">\n<hashTree>\n"
            "<TestPlan guiclass=\"TestPlanGui\" testclass=\"TestPlan\" testname=\"T\">\n"
            "  <elementProp name=\"TestPlan.user_defined_variables\" elementType=\"Arguments\">\n"
            "    <collectionProp name=\"Arguments.arguments\">\n"
            "      <elementProp name=\"base\" elementType=\"Argument\">\n"
            "        <stringProp name=\"Argument.name\">base</stringProp>\n"
            "        <stringProp name=\"Argument.value\">/api/${__P(version,v1)}</stringProp>\n"
            "      </elementProp>\n"
            "    </collectionProp>\n"
            "  </elementProp>\n"
            "</TestPlan>\n<hashTree>\n"
            "<ThreadGroup guiclass=\"ThreadGroupGui\" testclass=\"ThreadGroup\" testname=\"TG\">\n%s\n</ThreadGroup>\n"
            "<hashTree>\n%s\n</hashTree>\n</hashTree>\n</hashTree>\n</jmeterTestPlan>\n",
            tg_props, body);
    fclose(f);
    return p;
}

#define TG(threads, loops, extra)                                                                   \
    "<stringProp name=\"ThreadGroup.num_threads\">" threads "</stringProp>"                         \
    "<stringProp name=\"ThreadGroup.ramp_time\">0</stringProp>"                                     \
    "<elementProp name=\"ThreadGroup.main_controller\" elementType=\"LoopController\" "            \
    "testclass=\"LoopController\"><stringProp name=\"LoopController.loops\">" loops "</stringProp>" \
    "<boolProp name=\"LoopController.continue_forever\">false</boolProp></elementProp>" extra

#define SAMPLER(name, method, props)                                                            \
    "<HTTPSamplerProxy guiclass=\"HttpTestSampleGui\" testclass=\"HTTPSamplerProxy\" testname=\"" \
    name "\"><stringProp name=\"HTTPSampler.domain\">${__P(host,127.0.0.1)}</stringProp>"        \
    "<stringProp name=\"HTTPSampler.port\">${__P(port,8080)}</stringProp>"                       \
    "<stringProp name=\"HTTPSampler.path\">${base}/x</stringProp>"                                \
    "<stringProp name=\"HTTPSampler.method\">" method "</stringProp>" props "</HTTPSamplerProxy><hashTree/>"

/* The thesis' plan: 1 thread x 6 loops at 6 samples/min, a multipart image POST. */
static void test_seed_plan(void **state) {
    (void)state;
    jmx_plan p;
    pg_err e = { 0 };
    if (jmx_import(seed_plan(), NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_string_equal(p.name, "Reward Test");
    assert_string_equal(p.label, "Image Classification");
    assert_string_equal(p.plan.label, "Image Classification");
    assert_int_equal(p.plan.threads, 1);
    assert_int_equal(p.plan.loops, 6);
    assert_true(p.plan.ramp_s == 1);
    assert_true(p.throughput_per_min == 6 && p.calc_mode == 3);
    assert_true(fabs(p.plan.rate - 0.1) < 1e-12);
    assert_int_equal(load_is_open(&p.plan, &p.target), 0);       /* threads x loops, paced */
    assert_int_equal(load_planned_count(&p.plan, &p.target), 6);
    assert_true(fabs(load_planned_s(&p.plan, &p.target) - 51) < 1e-9);   /* 5 gaps of 10 s + ramp */
    assert_int_equal(p.target.nurls, 1);
    assert_string_equal(p.target.urls[0], "http://localhost:30030/api/v1/ml/classify");
    assert_string_equal(p.target.method, "POST");
    assert_int_equal(p.target.keepalive, 1);
    assert_int_equal(p.target.follow_redirects, 1);
    assert_string_equal(p.target.file_param, "file");
    assert_string_equal(p.target.file_mime, "image/jpeg");
    assert_non_null(strstr(p.target.file_path, "haliaeetus-leucocephalus_21_95718ff5.jpg"));
    assert_true(has_warning(&p, "upload file"));                /* the Windows path is not here */
    assert_true(has_warning(&p, "View Results Tree"));           /* its CSV is not written */
    assert_false(has_warning(&p, "unsupported"));
    jmx_plan_free(&p);
}

static void test_properties(void **state) {
    (void)state;
    const char *f = plan_file("props.jmx", TG("${__P(threads,2)}", "3", ""), SAMPLER("S", "GET", ""));
    jmx_plan p;
    pg_err e = { 0 };
    if (jmx_import(f, NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_string_equal(p.target.urls[0], "http://127.0.0.1:8080/api/v1/x");
    assert_int_equal(p.plan.threads, 2);
    assert_int_equal(p.plan.loops, 3);
    assert_true(p.plan.rate == 0);
    assert_int_equal(p.nwarnings, 0);
    jmx_plan_free(&p);

    jmx_prop props[] = { { "host", "10.1.2.3" }, { "port", "9" }, { "threads", "5" }, { "version", "v2" } };
    if (jmx_import(f, props, 4, &p, &e)) fail_msg("%s", e.message);
    assert_string_equal(p.target.urls[0], "http://10.1.2.3:9/api/v2/x");
    assert_int_equal(p.plan.threads, 5);
    jmx_plan_free(&p);

    /* __P without a default: JMeter's "1", said in a warning; an unknown ${var} too */
    f = plan_file("nodef.jmx", TG("${__P(nthreads)}", "1", ""), SAMPLER("S", "GET", "<stringProp name=\"HTTPSampler.contentEncoding\">${enc}</stringProp>"));
    if (jmx_import(f, NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_int_equal(p.plan.threads, 1);
    assert_true(has_warning(&p, "property 'nthreads' is not set"));
    jmx_plan_free(&p);

    /* a property that is not a number where one is needed */
    jmx_prop bad[] = { { "threads", "many" } };
    f = plan_file("badnum.jmx", TG("${__P(threads,2)}", "1", ""), SAMPLER("S", "GET", ""));
    assert_int_equal(jmx_import(f, bad, 1, &p, &e), -1);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "ThreadGroup.num_threads = 'many' is not a number"));
}

/* Loop Controllers multiply, Constant Timers add think time, a scheduler
 * duration with endless loops is a closed loop for that long, headers and
 * arguments are sent, disabled elements do not count. */
static void test_supported_elements(void **state) {
    (void)state;
    const char *body =
        "<ConstantTimer guiclass=\"ConstantTimerGui\" testclass=\"ConstantTimer\" testname=\"Think\">"
        "<stringProp name=\"ConstantTimer.delay\">250</stringProp></ConstantTimer><hashTree/>"
        "<HeaderManager guiclass=\"HeaderPanel\" testclass=\"HeaderManager\" testname=\"H\">"
        "<collectionProp name=\"HeaderManager.headers\"><elementProp name=\"\" elementType=\"Header\">"
        "<stringProp name=\"Header.name\">X-Test</stringProp><stringProp name=\"Header.value\">${__P(hv,yes)}</stringProp>"
        "</elementProp></collectionProp></HeaderManager><hashTree/>"
        "<LoopController guiclass=\"LoopControlPanel\" testclass=\"LoopController\" testname=\"L\">"
        "<stringProp name=\"LoopController.loops\">4</stringProp></LoopController><hashTree>"
        "<GenericController testclass=\"GenericController\" testname=\"Simple\"/><hashTree>"
        SAMPLER("S", "GET",
                "<elementProp name=\"HTTPsampler.Arguments\" elementType=\"Arguments\"><collectionProp name=\"Arguments.arguments\">"
                "<elementProp name=\"q\" elementType=\"HTTPArgument\"><boolProp name=\"HTTPArgument.always_encode\">true</boolProp>"
                "<stringProp name=\"Argument.name\">q</stringProp><stringProp name=\"Argument.value\">a b</stringProp>"
                "</elementProp></collectionProp></elementProp>"
                "<boolProp name=\"HTTPSampler.use_keepalive\">false</boolProp>"
                "<stringProp name=\"HTTPSampler.connect_timeout\">1000</stringProp>"
                "<stringProp name=\"HTTPSampler.response_timeout\">2000</stringProp>")
        "</hashTree></hashTree>"
        "<HTTPSamplerProxy testclass=\"HTTPSamplerProxy\" testname=\"Off\" enabled=\"false\"/><hashTree/>";
    const char *f = plan_file("sup.jmx", TG("3", "2", ""), body);
    jmx_plan p;
    pg_err e = { 0 };
    if (jmx_import(f, NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_int_equal(p.plan.threads, 3);
    assert_int_equal(p.plan.loops, 8);                          /* 2 x 4 */
    assert_true(p.plan.think_ms == 250);
    assert_true(p.plan.timeout_s == 3);
    assert_int_equal(p.target.keepalive, 0);
    assert_string_equal(p.target.urls[0], "http://127.0.0.1:8080/api/v1/x?q=a%20b");
    assert_int_equal(p.target.nheaders, 1);
    assert_string_equal(p.target.headers[0], "X-Test: yes");
    assert_int_equal(p.nwarnings, 0);
    jmx_plan_free(&p);

    /* endless loops with a 30 s scheduler and a throughput timer per thread */
    f = plan_file("sched.jmx",
                  TG("4", "-1", "<boolProp name=\"ThreadGroup.scheduler\">true</boolProp>"
                                "<stringProp name=\"ThreadGroup.duration\">30</stringProp>"),
                  "<ConstantThroughputTimer testclass=\"ConstantThroughputTimer\" testname=\"CTT\">"
                  "<intProp name=\"calcMode\">0</intProp><stringProp name=\"throughput\">${__P(tp,30)}</stringProp>"
                  "</ConstantThroughputTimer><hashTree/>" SAMPLER("S", "POST",
                  "<boolProp name=\"HTTPSampler.postBodyRaw\">true</boolProp>"
                  "<elementProp name=\"HTTPsampler.Arguments\" elementType=\"Arguments\"><collectionProp name=\"Arguments.arguments\">"
                  "<elementProp name=\"\" elementType=\"HTTPArgument\"><stringProp name=\"Argument.value\">{\"a\": 1}</stringProp>"
                  "</elementProp></collectionProp></elementProp>"));
    if (jmx_import(f, NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_int_equal(p.plan.loops, 0);
    assert_true(p.plan.duration_s == 30);
    assert_true(fabs(p.plan.rate - 2.0) < 1e-12);               /* 30/min per thread x 4 threads */
    assert_int_equal(p.target.closed, 1);
    assert_int_equal(load_is_open(&p.plan, &p.target), 0);
    assert_string_equal(p.target.body, "{\"a\": 1}");
    jmx_plan_free(&p);
}

/* What would change the numbers is named in a warning, or refused. */
static void test_unsupported(void **state) {
    (void)state;
    jmx_plan p;
    pg_err e = { 0 };
    const char *f = plan_file("warn.jmx", TG("1", "1", ""),
                              "<UniformRandomTimer testclass=\"UniformRandomTimer\" testname=\"Jitter\"/><hashTree/>"
                              "<ResponseAssertion testclass=\"ResponseAssertion\" testname=\"Body has OK\"/><hashTree/>"
                              "<CookieManager testclass=\"CookieManager\" testname=\"Cookies\"/><hashTree/>"
                              SAMPLER("S", "GET", ""));
    if (jmx_import(f, NULL, 0, &p, &e)) fail_msg("%s", e.message);
    assert_true(has_warning(&p, "UniformRandomTimer 'Jitter'"));
    assert_true(has_warning(&p, "ResponseAssertion 'Body has OK'"));
    assert_true(has_warning(&p, "CookieManager 'Cookies'"));
    jmx_plan_free(&p);

    struct { const char *name, *tg, *body, *msg; } cases[] = {
        { "if.jmx", TG("1", "1", ""),
          "<IfController testclass=\"IfController\" testname=\"Only sometimes\"/><hashTree>" SAMPLER("S", "GET", "") "</hashTree>",
          "inside IfController 'Only sometimes'" },
        { "two.jmx", TG("1", "1", ""), SAMPLER("A", "GET", "") SAMPLER("B", "GET", ""), "a second HTTP sampler 'B'" },
        { "jsr.jmx", TG("1", "1", ""), "<JSR223Sampler testclass=\"JSR223Sampler\" testname=\"Script\"/><hashTree/>",
          "unsupported sampler JSR223Sampler 'Script'" },
        { "none.jmx", TG("1", "1", ""), "", "no enabled HTTP sampler" },
        { "forever.jmx", TG("1", "-1", ""), SAMPLER("S", "GET", ""), "loops forever without a duration" },
        { "zero.jmx", TG("0", "1", ""), SAMPLER("S", "GET", ""), "0 threads" },
        { "badurl.jmx", TG("1", "1", ""),
          "<HTTPSamplerProxy testclass=\"HTTPSamplerProxy\" testname=\"S\">"
          "<stringProp name=\"HTTPSampler.path\">/x</stringProp></HTTPSamplerProxy><hashTree/>",
          "has no server name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f = plan_file(cases[i].name, cases[i].tg, cases[i].body);
        assert_int_equal(jmx_import(f, NULL, 0, &p, &e), -1);
        assert_int_equal(e.status, 400);
        if (!strstr(e.message, cases[i].msg)) fail_msg("%s: '%s' does not say '%s'", cases[i].name, e.message, cases[i].msg);
    }
}

static void test_bad_files(void **state) {
    (void)state;
    jmx_plan p;
    pg_err e = { 0 };
    char path[700];
    snprintf(path, sizeof path, "%s/missing.jmx", dir);
    assert_int_equal(jmx_import(path, NULL, 0, &p, &e), -1);
    assert_int_equal(e.status, 404);

    snprintf(path, sizeof path, "%s/text.jmx", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not XML\n", f);
    fclose(f);
    assert_int_equal(jmx_import(path, NULL, 0, &p, &e), -1);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "not well-formed"));

    snprintf(path, sizeof path, "%s/other.jmx", dir);
    f = fopen(path, "w");
    fputs("<?xml version=\"1.0\"?><html><body/></html>\n", f);
    fclose(f);
    assert_int_equal(jmx_import(path, NULL, 0, &p, &e), -1);
    assert_non_null(strstr(e.message, "wants <jmeterTestPlan>"));

    snprintf(path, sizeof path, "%s/cut.jmx", dir);
    f = fopen(path, "w");
    fputs("<jmeterTestPlan><hashTree><TestPlan testclass=\"TestPlan\"", f);
    fclose(f);
    assert_int_equal(jmx_import(path, NULL, 0, &p, &e), -1);
    assert_non_null(strstr(e.message, "not well-formed"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_plan),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_supported_elements),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
