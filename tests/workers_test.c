/*
** workers_test.c: the worker pool (bindings/workers.c) and the loader's
** batch jobs (bindings/loader_jobs.c) from C: results in submission order
** whatever order jobs finish in, failures handed back with their message,
** cancel and close with jobs queued and running, a pool in a forked child
** refusing work instead of hanging; a gather job's rows, a crop+flip plan
** against values worked out by hand, an image job's errors naming the file.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "loader_jobs.h"
#include "workers.h"

typedef struct {
  int id;
  int sleep_us;
  int fail;
  int *ran;   /* set to 1 by run */
  int *dropped;
} Job;

static int job_run(void *arg, char *err, size_t errlen) {
  Job *j = arg;
  if (j->sleep_us) usleep((useconds_t)j->sleep_us);
  *j->ran = 1;
  if (j->fail) snprintf(err, errlen, "job %d failed", j->id);
  return j->fail;
}

static void job_drop(void *arg) {
  Job *j = arg;
  (*j->dropped)++;
  free(j);
}

static Job *job(int id, int sleep_us, int fail, int *ran, int *dropped) {
  Job *j = calloc(1, sizeof *j);
  *j = (Job){id, sleep_us, fail, ran, dropped};
  return j;
}

Test(workers, results_come_back_in_submission_order) {
  char err[WK_ERRLEN];
  wk_pool *p = wk_open(3, 8, err, sizeof err);
  cr_assert_not_null(p, "%s", err);
  int ran[40] = {0}, dropped = 0, next = 0;
  srand(1);
  for (int i = 0; i < 40; i++) {
    /* early jobs slow, so later ones finish first */
    while (wk_submit(p, job_run, job_drop, job(i, (rand() % 5) * 1000, 0, &ran[i], &dropped)) != 0) {
      void *got;
      cr_assert_eq(wk_next(p, &got, err, sizeof err), 0);
      cr_assert_eq(((Job *)got)->id, next++);
      job_drop(got);
    }
  }
  void *got;
  while (wk_next(p, &got, err, sizeof err) == 0) {
    cr_assert_eq(((Job *)got)->id, next++);
    job_drop(got);
  }
  cr_assert_eq(next, 40);
  cr_assert_eq(dropped, 40);
  cr_assert_eq(wk_inflight(p), 0);
  wk_close(p);
}

Test(workers, a_full_pool_refuses_a_job) {
  char err[WK_ERRLEN];
  wk_pool *p = wk_open(1, 2, err, sizeof err);
  int ran[3] = {0}, dropped = 0;
  Job *third = job(2, 0, 0, &ran[2], &dropped);
  cr_assert_eq(wk_submit(p, job_run, job_drop, job(0, 20000, 0, &ran[0], &dropped)), 0);
  cr_assert_eq(wk_submit(p, job_run, job_drop, job(1, 0, 0, &ran[1], &dropped)), 0);
  cr_assert_eq(wk_submit(p, job_run, job_drop, third), -1);
  free(third);
  wk_close(p);
  cr_assert_eq(dropped, 2);
}

Test(workers, a_failure_comes_back_with_its_message) {
  char err[WK_ERRLEN];
  wk_pool *p = wk_open(2, 4, err, sizeof err);
  int ran[2] = {0}, dropped = 0;
  wk_submit(p, job_run, job_drop, job(0, 0, 0, &ran[0], &dropped));
  wk_submit(p, job_run, job_drop, job(1, 0, 1, &ran[1], &dropped));
  void *got;
  cr_assert_eq(wk_next(p, &got, err, sizeof err), 0);
  job_drop(got);
  cr_assert_eq(wk_next(p, &got, err, sizeof err), 1);
  cr_assert_str_eq(err, "job 1 failed");
  job_drop(got);
  cr_assert_eq(wk_next(p, &got, err, sizeof err), -1, "nothing in flight");
  wk_close(p);
}

Test(workers, cancel_drops_queued_jobs_unrun_and_waits_for_running_ones) {
  char err[WK_ERRLEN];
  wk_pool *p = wk_open(1, 16, err, sizeof err);
  int ran[16] = {0}, dropped = 0;
  for (int i = 0; i < 16; i++) wk_submit(p, job_run, job_drop, job(i, 5000, 0, &ran[i], &dropped));
  usleep(2000); /* the first is running */
  wk_cancel(p);
  cr_assert_eq(dropped, 16);
  cr_assert_eq(wk_inflight(p), 0);
  int count = 0;
  for (int i = 0; i < 16; i++) count += ran[i];
  cr_assert(count >= 1 && count < 16, "%d jobs ran", count);
  /* the pool works after a cancel */
  int again = 0;
  wk_submit(p, job_run, job_drop, job(99, 0, 0, &again, &dropped));
  void *got;
  cr_assert_eq(wk_next(p, &got, err, sizeof err), 0);
  cr_assert_eq(((Job *)got)->id, 99);
  job_drop(got);
  wk_close(p);
}

Test(workers, close_with_jobs_in_flight_drops_them_all) {
  for (int round = 0; round < 50; round++) {
    char err[WK_ERRLEN];
    wk_pool *p = wk_open(2, 6, err, sizeof err);
    int ran[6] = {0}, dropped = 0;
    for (int i = 0; i < 6; i++) wk_submit(p, job_run, job_drop, job(i, 200, 0, &ran[i], &dropped));
    wk_close(p);
    cr_assert_eq(dropped, 6);
  }
}

Test(workers, bad_sizes_are_refused) {
  char err[WK_ERRLEN];
  cr_assert_null(wk_open(0, 2, err, sizeof err));
  cr_assert_null(wk_open(2, 0, err, sizeof err));
  cr_assert_null(wk_open(WK_MAX_THREADS + 1, 2, err, sizeof err));
  cr_assert(strstr(err, "threads must be in 1..") != NULL, "%s", err);
}

Test(workers, a_forked_child_gets_refusals_not_a_hang) {
  char err[WK_ERRLEN];
  wk_pool *p = wk_open(2, 2, err, sizeof err);
  int ran = 0, dropped = 0;
  pid_t pid = fork();
  if (pid == 0) {
    Job *j = job(0, 0, 0, &ran, &dropped);
    void *got;
    int ok = wk_submit(p, job_run, job_drop, j) == -1 && wk_next(p, &got, err, sizeof err) == -1;
    wk_close(p); /* frees memory, joins nothing */
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  wk_close(p);
}

/* {====================== loader jobs ====================== */

Test(loader_jobs, gather_copies_rows_and_names_the_batch_on_a_bad_index) {
  float src[5][3];
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 3; k++) src[i][k] = (float)(10 * i + k);
  int64_t idx[3] = {4, 0, 2};
  float out[3][3];
  lj_job j = {.kind = LJ_GATHER, .label = "batch 7 of epoch 2", .n = 3, .idx = idx, .nfields = 1};
  j.fields[0] = (lj_field){(const char *)src, (char *)out, sizeof src[0], 5};
  char err[256];
  cr_assert_eq(lj_run(&j, err, sizeof err), 0);
  cr_assert_eq(out[0][1], 41.0f);
  cr_assert_eq(out[1][2], 2.0f);
  cr_assert_eq(out[2][0], 20.0f);
  idx[1] = 5;
  cr_assert_eq(lj_run(&j, err, sizeof err), 1);
  cr_assert_str_eq(err, "batch 7 of epoch 2: index 5 out of range for 5 rows");
}

Test(loader_jobs, gather_then_a_crop_and_flip_plan) {
  /* two 1x2x2 images; window shifted by (1, 0) with zero fill, sample 1 flipped */
  float src[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  int64_t idx[2] = {1, 0}, top[2] = {1, 0}, left[2] = {0, 0};
  uint8_t flip[2] = {0, AUG_FLIP_H};
  aug_step crop = {.kind = AUG_CROP, .oh = 2, .ow = 2, .top = top, .left = left, .flip = flip,
                   .pad = AUG_PAD_CONSTANT, .fill = 0};
  float out[2][4];
  lj_job j = {.kind = LJ_GATHER, .label = "b", .n = 2, .idx = idx, .nfields = 1, .steps = &crop,
              .nsteps = 1, .plan_in = {2, 1, 2, 2}};
  j.fields[0] = (lj_field){(const char *)src, (char *)out, sizeof src[0], 2};
  char err[256];
  cr_assert_eq(lj_run(&j, err, sizeof err), 0, "%s", err);
  /* sample 0 is src[1] = [[5 6] [7 8]] moved up a row: [[7 8] [0 0]] */
  float want0[4] = {7, 8, 0, 0}, want1[4] = {2, 1, 4, 3};
  cr_assert_arr_eq(out[0], want0, sizeof want0);
  cr_assert_arr_eq(out[1], want1, sizeof want1);
}

Test(loader_jobs, an_image_job_names_the_file_it_could_not_read) {
  char path[] = "/tmp/clara_workers_test_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, "not an image", 12), 12);
  close(fd);
  char *paths[1] = {path};
  uint8_t out[4];
  lj_job j = {.kind = LJ_IMAGES, .label = "batch 3 of epoch 1", .n = 1, .paths = paths, .mode = 0,
              .c = 1, .h = 2, .w = 2, .dtype = LJ_UINT8, .images_out = out};
  char err[512];
  cr_assert_eq(lj_run(&j, err, sizeof err), 1);
  unlink(path);
  cr_assert(strncmp(err, "batch 3 of epoch 1: ", 20) == 0, "%s", err);
  cr_assert(strstr(err, path) != NULL, "%s", err);
}

/* }====================================================== */
