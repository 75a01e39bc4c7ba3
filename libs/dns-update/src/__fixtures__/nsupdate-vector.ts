// A real UPDATE as BIND's nsupdate 9.18 sends it (captured from `nsupdate -v -y hmac-sha256:autopilot-key:...`
// against a loopback listener), for checking this library's TSIG and UPDATE encoding against BIND's own:
//   zone autopilot.test
//   update delete _dmarc.d1.autopilot.test TXT
//   update add _dmarc.d1.autopilot.test 300 TXT "v=DMARC1; p=reject"
// Test data only: the key exists nowhere else.
export const NSUPDATE_KEY = { name: 'autopilot-key', algorithm: 'hmac-sha256', secret: 'VgPhbE/UMuWCQah6pP7T+g1hMKGCSC9Xf+b+EaN+JZY=' } as const;

export const NSUPDATE_MESSAGE = Buffer.from(
  '1eb928000001000000020001096175746f70696c6f7404746573740000060001065f646d617263026431096175746f70696c6f74047465737400001000ff000000000000c020001000010000012c001312763d444d415243313b20703d72656a6563740d6175746f70696c6f742d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0747b7012c0020b58d3ff7d083006d7755845701a4fbb1eda73d9ce18d96a985d71cbc96e25a741eb900000000',
  'hex',
);
