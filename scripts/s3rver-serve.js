// s3rver-serve.js starts s3rver (an S3 emulator storing objects under the
// directory $S3RVER_DIR) on 127.0.0.1 only. The port is $S3RVER_PORT, or a
// free one when unset or 0; once listening, the port is written to the
// file named by the first argument (if any) and printed. Any access key is
// accepted (signatures are checked against the secret "S3RVER").
// s3rver 3.7.1 needs NODE_OPTIONS=--openssl-legacy-provider on Node 17+:
// it encrypts ListObjectsV2 continuation tokens with a legacy cipher.
// Used by scripts/testenv.sh.
'use strict';
const fs = require('fs');
const S3rver = require('s3rver');

const port = parseInt(process.env.S3RVER_PORT || '0', 10);
const directory = process.env.S3RVER_DIR;
const portFile = process.argv[2];
if (!directory) {
  console.error('s3rver-serve.js: set S3RVER_DIR to the directory to store objects in');
  process.exit(2);
}
new S3rver({ address: '127.0.0.1', port, directory, silent: true }).run((err, addr) => {
  if (err) throw err;
  if (portFile) {
    fs.writeFileSync(portFile + '.tmp', String(addr.port));
    fs.renameSync(portFile + '.tmp', portFile);
  }
  console.log('s3rver listening on 127.0.0.1:' + addr.port);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
