package faults

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook that applies the faults on target
// before every command and pipeline of the client it is added to.
func (in *Injector) RedisHook(target string) redis.Hook {
	return redisHook{in: in, target: target}
}

type redisHook struct {
	in     *Injector
	target string
}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return next
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.in.Apply(ctx, h.target); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h redisHook) ProcessPipelineHook(
	next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.in.Apply(ctx, h.target); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}
