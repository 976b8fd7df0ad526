// kinesalite-serve.js starts kinesalite (an in-memory Kinesis emulator) on
// 127.0.0.1 only: the kinesalite CLI has no host flag and would listen on
// every interface. The port is $KINESIS_PORT, or a free one when unset or
// 0; once listening, the port is written to the file named by the first
// argument (if any) and printed. Used by scripts/testenv.sh.
'use strict';
const fs = require('fs');
const kinesalite = require('kinesalite');

const port = parseInt(process.env.KINESIS_PORT || '0', 10);
const portFile = process.argv[2];
// Streams become ACTIVE, and reshards complete, at once.
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
server.listen(port, '127.0.0.1', (err) => {
  if (err) throw err;
  const actual = server.address().port;
  if (portFile) {
    fs.writeFileSync(portFile + '.tmp', String(actual));
    fs.renameSync(portFile + '.tmp', portFile);
  }
  console.log('kinesalite listening on 127.0.0.1:' + actual);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
