/*
** l_torch_preload.c: the C modules over libtorch, by the name `require`
** knows them; one line each.  They make up libclara_torch.so, which the
** runtime loads the first time one of them is required, so that
** `clara -v`, `--help` and scripts that never touch a tensor do not pay
** libtorch's start-up (its static initializers register every operator).
*/
#include "clara_libs.h"

const luaL_Reg clara_torch_preloads[] = {
    {"torch.core", luaopen_torch_core},
    {"clara.data.core", luaopen_clara_data_core},
    {"clara.image.core", luaopen_clara_image_core},
    {"torch.nn.core", luaopen_torch_nn_core},
    {"torch.optim.core", luaopen_torch_optim_core},
    {"torch.jit.core", luaopen_torch_jit_core},
    {"clara.losses.core", luaopen_clara_losses_core},
    {"torch.rng.core", luaopen_torch_rng_core},
    {"clara.train.fast.core", luaopen_clara_train_fast_core},
    {"torch.distributed.core", luaopen_torch_distributed_core},
    {"clara.data.workers.core", luaopen_clara_data_workers_core},
    {"clara.transforms.core", luaopen_clara_transforms_core},
    {NULL, NULL}};
