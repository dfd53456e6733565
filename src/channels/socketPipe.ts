import type { Duplex } from 'node:stream';
import type { ChannelState } from './ChannelState';

/** Bytes handed to the channel but not yet taken by the connection, above which the socket pauses. */
const HIGH_WATER = 1024 * 1024;

/**
 * Joins a channel and a byte stream (a TCP socket, or a virtual destination) with flow control
 * both ways: a slow client pauses the stream, a slow stream holds the client's window. EOF and
 * close travel across; either side ending tears the other down.
 */
export function pipeChannel(state: ChannelState, stream: Duplex): void {
  let pending = 0;
  let ended = false;
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    if (pending > HIGH_WATER) stream.pause();
    state.send(chunk, 0).then(
      () => {
        pending -= chunk.length;
        if (pending <= HIGH_WATER && stream.isPaused()) stream.resume();
      },
      () => stream.destroy(),
    );
  });
  stream.on('end', () => {
    ended = true;
    state.eof();
  });
  stream.on('error', () => undefined);
  stream.on('close', () => {
    if (!ended) state.eof();
    state.close();
  });
  let draining = false;
  state.consumer = {
    data: (data, extended) => {
      if (extended !== 0 || stream.destroyed) return;
      // One 'drain' listener at a time: the client may still send what its window allows meanwhile.
      if (!stream.write(data) && !draining) {
        draining = true;
        state.holdWindow(true);
        stream.once('drain', () => {
          draining = false;
          state.holdWindow(false);
        });
      }
    },
    end: () => stream.end(),
    closed: () => stream.destroy(),
  };
  stream.resume();
}
