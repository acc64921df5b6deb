/*
** workers.c: the worker pool of workers.h.
**
** The jobs in flight sit in a ring of `capacity` slots, in submission
** order: [head, tail) are in flight, [take, tail) of them still queued.
** Workers take queued slots in order; the submitter waits on the slot at
** head, so results come back in order whatever order the jobs finish in.
** One mutex guards the ring; `work` wakes workers, `done` the submitter.
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers.h"

enum { SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

typedef struct {
  wk_run run;
  wk_drop drop;
  void *job;
  int state;
  int status;
  char err[WK_ERRLEN];
} Slot;

struct wk_pool {
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  pthread_t threads[WK_MAX_THREADS];
  int nthreads;
  int capacity;
  long head, take, tail; /* counters; a slot is counter % capacity */
  int running;           /* slots a worker holds */
  int stop;
  pid_t pid;             /* the process whose threads these are */
  Slot *slots;
};

static Slot *slot_at(wk_pool *p, long k) { return &p->slots[k % p->capacity]; }

static int foreign(const wk_pool *p) { return p->pid != getpid(); }

static void *worker_main(void *arg) {
  wk_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->take == p->tail) pthread_cond_wait(&p->work, &p->mu);
    if (p->stop) break;
    Slot *s = slot_at(p, p->take++);
    s->state = SLOT_RUNNING;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    s->err[0] = '\0';
    int status = s->run(s->job, s->err, sizeof s->err) != 0;
    if (status && s->err[0] == '\0') snprintf(s->err, sizeof s->err, "the job failed");
    pthread_mutex_lock(&p->mu);
    s->status = status;
    s->state = SLOT_DONE;
    p->running--;
    pthread_cond_broadcast(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* joins the first n threads after telling them to stop */
static void stop_threads(wk_pool *p, int n) {
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) pthread_join(p->threads[i], NULL);
}

static void destroy(wk_pool *p) {
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->slots);
  free(p);
}

wk_pool *wk_open(int nthreads, int capacity, char *err, size_t errlen) {
  if (nthreads < 1 || nthreads > WK_MAX_THREADS || capacity < 1 || capacity > WK_MAX_INFLIGHT) {
    snprintf(err, errlen, "threads must be in 1..%d and jobs in flight in 1..%d",
             WK_MAX_THREADS, WK_MAX_INFLIGHT);
    return NULL;
  }
  wk_pool *p = calloc(1, sizeof *p);
  Slot *slots = calloc((size_t)capacity, sizeof *slots);
  if (!p || !slots) {
    free(p);
    free(slots);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->slots = slots;
  p->capacity = capacity;
  p->pid = getpid();
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->done, NULL);
  /* threads inherit the mask: every signal goes to the main thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = 0;
  for (; p->nthreads < nthreads; p->nthreads++) {
    rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
    if (rc != 0) break;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start worker thread %d: %s", p->nthreads + 1, strerror(rc));
    stop_threads(p, p->nthreads);
    destroy(p);
    return NULL;
  }
  return p;
}

int wk_submit(wk_pool *p, wk_run run, wk_drop drop, void *job) {
  if (foreign(p)) return -1;
  pthread_mutex_lock(&p->mu);
  int ok = !p->stop && p->tail - p->head < p->capacity;
  if (ok) {
    Slot *s = slot_at(p, p->tail++);
    s->run = run;
    s->drop = drop;
    s->job = job;
    s->state = SLOT_QUEUED;
    s->status = 0;
    pthread_cond_signal(&p->work);
  }
  pthread_mutex_unlock(&p->mu);
  return ok ? 0 : -1;
}

int wk_next(wk_pool *p, void **job, char *err, size_t errlen) {
  if (foreign(p)) return -1;
  pthread_mutex_lock(&p->mu);
  if (p->head == p->tail) {
    pthread_mutex_unlock(&p->mu);
    return -1;
  }
  Slot *s = slot_at(p, p->head);
  while (s->state != SLOT_DONE) pthread_cond_wait(&p->done, &p->mu);
  p->head++;
  int status = s->status;
  *job = s->job;
  if (status) snprintf(err, errlen, "%s", s->err);
  pthread_mutex_unlock(&p->mu);
  return status;
}

int wk_inflight(const wk_pool *p) { return (int)(p->tail - p->head); }

void wk_cancel(wk_pool *p) {
  if (p == NULL || foreign(p)) return;
  pthread_mutex_lock(&p->mu);
  p->take = p->tail; /* the queued ones never start */
  while (p->running > 0) pthread_cond_wait(&p->done, &p->mu);
  long head = p->head, tail = p->tail;
  p->head = p->tail;
  pthread_mutex_unlock(&p->mu);
  for (long k = head; k < tail; k++) {
    Slot *s = slot_at(p, k);
    if (s->drop) s->drop(s->job);
  }
}

void wk_close(wk_pool *p) {
  if (p == NULL) return;
  if (foreign(p)) { /* a forked child: no threads to join, jobs not ours */
    free(p->slots);
    free(p);
    return;
  }
  wk_cancel(p);
  stop_threads(p, p->nthreads);
  destroy(p);
}
