/* jtl.h: JMeter result files (.jtl).
 *
 * Writing: CSV in JMeter 5.x's default column order, with the header line
 *   timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,
 *   success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,
 *   IdleTime,Connect
 * times as integer milliseconds (as JMeter writes them, so JMeter and its
 * report tools read the file back), fields quoted when they hold the
 * delimiter, a quote or a line break. A sample without an HTTP answer
 * (code 0) is written as JMeter writes one: responseCode "Non HTTP response
 * code: <reason>", responseMessage "Non HTTP response message: <reason>".
 *
 * Reading: CSV by header name, so any subset and order of the columns
 * JMeter can save works (the delimiter ',', tab, ';' or '|' is taken from
 * the header); a file without a header must have the 17 default columns.
 * timeStamp, elapsed and success are required; Latency, Connect, bytes, ...
 * are optional (a missing Latency column leaves latency "no value", never
 * 0). timeStamp may be epoch ms or a date "yyyy/MM/dd HH:mm:ss.SSS" (local
 * time). XML result files (<testResults>) are read too. Errors name the
 * file, the line and the column: "run.jtl:7: column 'elapsed': not a
 * number: 'abc'". */
#ifndef PG_JTL_H
#define PG_JTL_H

#include <stdio.h>

#include "base/err.h"
#include "load/sample.h"

/* The default header, without the line break. */
extern const char jtl_header[];

/* Write r's samples to path (through a temporary file renamed into place:
 * never a half-written file). */
int jtl_write(const char *path, const ld_result *r, pg_err *e);
/* Write to an open stream (header included). */
int jtl_write_fp(FILE *f, const ld_result *r, pg_err *e);

/* Append the samples of path to r and summarize r. On error r may hold the
 * rows read before the bad line; the caller frees r either way. */
int jtl_read(const char *path, ld_result *r, pg_err *e);
/* The same from a stream; name is used in error messages. */
int jtl_read_fp(FILE *f, const char *name, ld_result *r, pg_err *e);

#endif
