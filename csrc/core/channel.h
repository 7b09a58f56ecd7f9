/*
 * channel.h - Go channels and select.
 */
#ifndef MOONLET_CHANNEL_H
#define MOONLET_CHANNEL_H

#include "core/loop.h"

void moonlet__open_channel(lua_State *L, moonlet_loop *lp);

#endif
