// Key Vault for the Partner Center client secret, in RBAC mode with soft delete and purge
// protection. The secret itself is not a template parameter: the operator sets it
// (README, "Deploy").
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:Flex Consumption without VNet integration reaches the vault over its public endpoint; access is by Entra identity and RBAC.
  // checkov:skip=CKV_AZURE_189:Same as CKV_AZURE_109: public network access stays on, every request needs an Entra token.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
