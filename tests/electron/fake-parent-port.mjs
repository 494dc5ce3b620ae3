// Loaded with --import into a plain Node child: gives it Electron's utility-process API
// (process.parentPort with postMessage / on('message', ({ data }) => ...)) on top of the IPC
// channel, so the engine's utility-process branch runs without an Electron binary.
const send = process.send.bind(process);
// as in Electron, there is no process.send: an engine that ignored parentPort could not answer
process.send = undefined;
process.parentPort = {
  postMessage: (m) => send(m),
  on: (event, cb) => {
    if (event === 'message') process.on('message', (data) => cb({ data }));
  },
};
