/*
** workers.h: a pool of worker threads that runs C jobs and hands their
** results back in the order they were submitted.
**
** Jobs are Lua-free: a job is a pointer and two functions, `run` (called
** once in a worker thread; it must touch no lua_State and no libtorch
** handle, only the raw buffers the submitter prepared) and `drop` (called
** on the submitting thread when the job is taken back, finished or not:
** it frees what the job owns).  The submitting thread is the only one
** that calls the functions below.
**
**   wk_pool *p = wk_open(2, 4, err, sizeof err);   2 threads, 4 jobs in flight
**   wk_submit(p, run, drop, job);                  0, or -1 when 4 are in flight
**   wk_next(p, &job, err, sizeof err);             waits for the OLDEST job
**   ...drop(job) is the caller's after wk_next...
**   wk_cancel(p);   every job taken back (queued ones never run)
**   wk_close(p);    threads joined, the pool freed
**
** Worker threads block every signal, so a SIGINT/SIGTERM always reaches
** the main thread's handler (clara's signal flags).  A pool belongs to the
** process that opened it: in a forked child its threads do not exist, so
** every call there fails (and wk_close only frees memory).
*/
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>

typedef struct wk_pool wk_pool;

/* run(job, err, errlen): 0 on success, else nonzero with a message in err */
typedef int (*wk_run)(void *job, char *err, size_t errlen);
typedef void (*wk_drop)(void *job);

#define WK_MAX_THREADS 64
#define WK_MAX_INFLIGHT 1024
#define WK_ERRLEN 512

/* nthreads in 1..WK_MAX_THREADS, capacity (jobs in flight) in
   1..WK_MAX_INFLIGHT; NULL with a message in err on failure */
wk_pool *wk_open(int nthreads, int capacity, char *err, size_t errlen);

/* queues a job: 0, or -1 when capacity jobs are in flight (or the pool is
   closed or foreign to this process); drop is not called then */
int wk_submit(wk_pool *p, wk_run run, wk_drop drop, void *job);

/* waits for the oldest job in flight and hands it back in *job (the
   caller drops it): 0 when it ran, 1 when it failed (its message in err),
   -1 when no job is in flight (or the pool is foreign to this process) */
int wk_next(wk_pool *p, void **job, char *err, size_t errlen);

int wk_inflight(const wk_pool *p); /* jobs submitted and not yet handed back */

/* takes every job back: queued ones are dropped unrun, running ones are
   waited for, then dropped */
void wk_cancel(wk_pool *p);

/* wk_cancel, then the threads joined and the pool freed; NULL is a no-op */
void wk_close(wk_pool *p);

#endif
