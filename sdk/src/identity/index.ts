export {
  type CreateCertificateParams,
  certificateHash,
  checkCertificatePolicy,
  createCertificate,
  type ParsedCertificate,
  parseCertificate,
  type VerifyCertificateAsyncParams,
  type VerifyCertificateParams,
  verifyCertificate,
  verifyCertificateOffline,
  verifyContractSignature,
} from './certificate.ts'
export { type AddResult, CertificateRegistry, type CertificateRegistryInit } from './registry.ts'
export {
  type Eip1193Provider,
  type Eip1193SignerInit,
  type EthersLikeSigner,
  eip1193Signer,
  type WalletSigner,
  type WalletSignerInit,
  walletSigner,
} from './signer.ts'
