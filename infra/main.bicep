// pc-publisher on Azure: a Flex Consumption function app with a user-assigned identity, its
// storage (queues, ledger table, deployment container), Key Vault for the Partner Center client
// secret, and monitoring with alerts. Subscription scope, as azd expects.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; prefixes every resource')
param environmentName string

@minLength(1)
@description('Azure region for every resource')
param location string

@description('Object id of the deploying user; gets Key Vault Secrets Officer to set the secret, and data access to the storage account to run pcpub')
param principalId string = ''

@description('What principalId is: a user (azd up from a shell) or a service principal (a pipeline)')
@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@description('Entra tenant of the app associated with Partner Center')
param partnerCenterTenantId string

@description('Client id of the app associated with Partner Center (Manager role)')
param partnerCenterClientId string

@description('Where alert notifications go; none when empty')
param alertEmail string = ''

@description('How often the poller runs (NCRONTAB, seconds first)')
param pollSchedule string = '0 */1 * * * *'

@description('Where events are forwarded (PC_NOTIFY_SINKS): a JSON list of sinks naming Key Vault secrets, never URLs')
param notificationSinks string = '[]'

@description('Share of runs whose traces are kept, 0 to 1 (PC_TRACE_SAMPLING_RATIO); logs and metrics are never sampled')
param traceSamplingRatio string = '1.0'

var abbrs = loadJsonContent('./abbreviations.json')
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

// Queue names, the ledger table and the secret name: the same names the function app uses
// (shared/queues.py, shared/ledger.py, shared/settings.py); tests/unit/test_infra.py checks it.
var pipelineQueues = [
  'pc-publish-requests'
  'pc-resolve'
  'pc-plan'
  'pc-export'
  'pc-upload-package'
  'pc-update-draft'
  'pc-submit-preview'
  'pc-promote'
  'pc-complete'
  'pc-check'
  'pc-events'
  'pc-notify'
]
var poisonQueues = [for q in pipelineQueues: '${q}-poison']
var ledgerTable = 'pcruns'
var secretName = 'partner-center-client-secret'
var deploymentContainer = 'app-package-${token}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity './app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${token}'
    location: location
    tags: tags
  }
}

module storage './app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${token}'
    location: location
    tags: tags
    queueNames: concat(pipelineQueues, poisonQueues)
    tableName: ledgerTable
    containerNames: [deploymentContainer, 'package-staging', 'pc-exports']
  }
}

module vault './app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${token}'
    location: location
    tags: tags
  }
}

module monitoring './app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: '${abbrs.operationalInsightsWorkspaces}${token}'
    insightsName: '${abbrs.insightsComponents}${token}'
    actionGroupName: '${abbrs.insightsActionGroups}${token}'
    alertPrefix: '${abbrs.insightsScheduledQueryRules}${token}'
    location: location
    tags: tags
    alertEmail: alertEmail
  }
}

module function './app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    planName: '${abbrs.webServerFarms}${token}'
    appName: '${abbrs.webSitesFunctions}${token}'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainer: deploymentContainer
    insightsConnectionString: monitoring.outputs.connectionString
    vaultUrl: vault.outputs.uri
    secretName: secretName
    partnerCenterTenantId: partnerCenterTenantId
    partnerCenterClientId: partnerCenterClientId
    pollSchedule: pollSchedule
    notificationSinks: notificationSinks
    traceSamplingRatio: traceSamplingRatio
  }
}

module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageName: storage.outputs.name
    vaultName: vault.outputs.name
    insightsName: monitoring.outputs.insightsName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = function.outputs.name
output SERVICE_API_NAME string = function.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output PUBLISH_REQUEST_QUEUE_URL string = '${storage.outputs.queueEndpoint}pc-publish-requests'
output EVENTS_QUEUE_URL string = '${storage.outputs.queueEndpoint}pc-events'
output LEDGER_TABLE_URL string = '${storage.outputs.tableEndpoint}${ledgerTable}'
output KEY_VAULT_URL string = vault.outputs.uri
output KEY_VAULT_NAME string = vault.outputs.name
output PC_SECRET_NAME string = secretName
