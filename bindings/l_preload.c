/*
** l_preload.c: the C modules the runtime preloads; one line each.
*/
#include "clara_libs.h"

const luaL_Reg clara_preloads[] = {
    {"torch.core", luaopen_torch_core},
    {"clara.data.core", luaopen_clara_data_core},
    {"torch.nn.core", luaopen_torch_nn_core},
    {"torch.optim.core", luaopen_torch_optim_core},
    {"torch.jit.core", luaopen_torch_jit_core},
    {"clara.losses.core", luaopen_clara_losses_core},
    {"clara.signal.core", luaopen_clara_signal_core},
    {"torch.rng.core", luaopen_torch_rng_core},
    {"clara.sys.core", luaopen_clara_sys_core},
    {"clara.train.fast.core", luaopen_clara_train_fast_core},
    {"clara.process.core", luaopen_clara_process_core},
    {NULL, NULL}};
